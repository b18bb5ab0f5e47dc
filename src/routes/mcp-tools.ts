import { z } from "@hono/zod-openapi";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Services } from "../container";
import { type AppError, asAppError } from "../errors";
import type { Logger } from "../lib/log";
import { PageQuery } from "../schemas/collections";
import { QueryFields, QueryResultSchema } from "../schemas/query";
import { SearchBody, SearchResultSchema } from "../schemas/search";
import { assertScope, hasAnyScope, type KeyPrincipal, type Scope } from "../services/principal";
import type { Run } from "../services/query/service";

/** What the tools run with: the caller as REST would see it, and the request's signal. */
export interface McpContext {
  services: Services;
  principal: KeyPrincipal;
  signal: AbortSignal;
  /** The request's logger (its lines name the MCP call). */
  logger: Logger;
}

/** What reading documents takes, as on REST (`GET /v1/documents/{id}`, listings). */
const READ: Scope[] = ["query", "ingest"];

/** The package's own version, reported in `initialize`. */
const SERVER_INFO = { name: "edgerag", version: "1.0.0" };

const DOCUMENT_ID = z.string().regex(/^doc_[A-Za-z0-9]{16}$/, "must be a document id");
const COLLECTION_ID = z.string().regex(/^col_[A-Za-z0-9]{16}$/, "must be a collection id");

/** `ask` takes `/v1/query`'s fields, without the ones for streaming and stored conversations. */
export const AskInput = QueryFields.omit({ stream: true, conversation_id: true });
const GetDocumentInput = z.object({ document_id: DOCUMENT_ID }).strict();
const ListDocumentsInput = PageQuery.extend({ collection_id: COLLECTION_ID }).strict();
const ListCollectionsInput = PageQuery.strict();

/** A tool's result: its JSON as text (every client reads that) and as structured content. */
function result(value: object, text = JSON.stringify(value)): CallToolResult {
  return { content: [{ type: "text", text }], structuredContent: value as Record<string, unknown> };
}

/** An error the caller can act on, as a tool error (the model sees it), never a protocol failure. */
function failure(error: AppError): CallToolResult {
  const message = error.status >= 500 && error.code === "internal" ? "An unexpected error occurred." : error.message;
  const detail = error.errors?.map((e) => `${e.path}: ${e.message}`).join("; ");
  return {
    isError: true,
    content: [{ type: "text", text: `${error.code} (${error.status}): ${message}${detail ? ` — ${detail}` : ""}` }],
  };
}

/** Runs a tool's body as REST would: the scope first (403 as a tool error), errors as tool errors. */
async function guarded(ctx: McpContext, scopes: Scope[], body: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    assertScope(ctx.principal, scopes);
    return await body();
  } catch (error) {
    const appError = asAppError(error);
    if (appError.code === "internal") {
      ctx.logger.error("MCP tool failed", { error });
    }
    return failure(appError);
  }
}

/** The answer with its numbered citations, as a model reads it best. */
function answerText(answer: z.infer<typeof QueryResultSchema>): string {
  if (answer.abstained || answer.citations.length === 0) {
    return answer.answer;
  }
  const cites = answer.citations.map((c) => `[${c.n}] ${c.title} (${c.document_id}): "${c.quote}"`);
  return `${answer.answer}\n\n${cites.join("\n")}`;
}

/**
 * The MCP server for one request (stateless: nothing outlives it, so any isolate serves any
 * request). Tools mirror the REST routes — the same zod schemas for their inputs, the same services
 * and therefore the same tenancy, collection restrictions, key filters and scopes.
 */
export function mcpServer(ctx: McpContext): McpServer {
  const server = new McpServer(SERVER_INFO, {
    capabilities: { tools: {}, resources: {}, logging: {} },
    instructions:
      "EdgeRAG answers questions from a tenant's documents with citations. Call list_collections first for " +
      "collection ids; use ask for an answer with citations (it abstains when the documents do not say), " +
      "search for ranked passages, get_document for a document's text.",
  });
  const { services, principal } = ctx;

  server.registerTool(
    "search",
    {
      title: "Search documents",
      description:
        "Rank passages of the given collections for a query (hybrid, vector or keyword). Same body as POST /v1/search.",
      inputSchema: SearchBody,
      outputSchema: SearchResultSchema,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (input) => guarded(ctx, ["query"], async () => result(await services.search.run(principal, input))),
  );

  server.registerTool(
    "ask",
    {
      title: "Ask a question",
      description:
        "Answer a question from the documents with numbered citations; `abstained` is true when they do not say. " +
        "mode: fast (< 1 s), balanced (< 3 s), deep (< 10 s). Same body as POST /v1/query.",
      inputSchema: AskInput,
      outputSchema: QueryResultSchema,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (input, extra) =>
      guarded(ctx, ["query"], async () => {
        const question = await services.query.ask(principal, { ...input, stream: false });
        const run: Run = { startedAt: performance.now(), signal: AbortSignal.any([ctx.signal, extra.signal]) };
        const token = extra._meta?.progressToken;
        if (token === undefined) {
          const answer = await question.answer(run);
          return result(answer, answerText(answer));
        }
        // Progress while the answer is made: sources found, then the answer being written.
        const progress = (value: number, message: string) =>
          void extra
            .sendNotification({
              method: "notifications/progress",
              params: { progressToken: token, progress: value, total: 3, message },
            })
            .catch(() => undefined);
        progress(0, `Searching (${input.mode} mode)`);
        let writing = false;
        const answer = await question.answer(
          run,
          {
            retrieval: (sources) => progress(1, `Found ${sources.length} sources`),
            token: () => {
              if (!writing) {
                writing = true;
                progress(2, "Writing the answer");
              }
            },
            citation: () => undefined,
          },
          run.signal,
        );
        progress(3, answer.abstained ? "The documents do not answer this" : "Answered");
        return result(answer, answerText(answer));
      }),
  );

  server.registerTool(
    "get_document",
    {
      title: "Get a document",
      description:
        "A document's metadata and its text as indexed passages, in order (consecutive passages overlap a little; " +
        "at most 100,000 characters, `truncated` when more).",
      inputSchema: GetDocumentInput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ document_id }) =>
      guarded(ctx, READ, async () => {
        const doc = await services.documents.passages(principal, document_id);
        const text = `# ${doc.document.title}\n\n${doc.passages.map((p) => p.text).join("\n\n")}`;
        return { content: [{ type: "text", text }], structuredContent: doc };
      }),
  );

  server.registerTool(
    "list_collections",
    {
      title: "List collections",
      description: "The collections this key may read, newest first; pass `cursor` from the last page for more.",
      inputSchema: ListCollectionsInput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (page) => guarded(ctx, READ, async () => result(await services.collections.list(principal, page))),
  );

  server.registerTool(
    "list_documents",
    {
      title: "List documents",
      description: "A collection's documents, newest first; pass `cursor` from the last page for more.",
      inputSchema: ListDocumentsInput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ collection_id, ...page }) =>
      guarded(ctx, READ, async () => result(await services.documents.list(principal, collection_id, page))),
  );

  // Documents as resources: the newest few of each collection listed, any readable by its uri.
  server.registerResource(
    "document",
    new ResourceTemplate("edgerag://documents/{document_id}", {
      list: async () => {
        if (!hasAnyScope(principal, READ)) {
          return { resources: [] };
        }
        const collections = await services.collections.list(principal, { limit: 20 });
        const pages = await Promise.all(
          collections.items.map((col) => services.documents.list(principal, col.id, { limit: 20 })),
        );
        return {
          resources: pages.flatMap((page) =>
            page.items.map((doc) => ({
              uri: `edgerag://documents/${doc.id}`,
              name: doc.title,
              mimeType: "text/plain",
              description: `${doc.status} · ${doc.mime_type} · collection ${doc.collection_id}`,
            })),
          ),
        };
      },
    }),
    { title: "Document", description: "A document's indexed text", mimeType: "text/plain" },
    async (uri, { document_id }) => {
      const id = DOCUMENT_ID.parse(Array.isArray(document_id) ? document_id[0] : document_id);
      let doc: Awaited<ReturnType<Services["documents"]["passages"]>>;
      try {
        assertScope(principal, READ);
        doc = await services.documents.passages(principal, id);
      } catch (error) {
        // A resource read has no tool-error form: the protocol error carries the problem's detail.
        throw new Error(asAppError(error).message);
      }
      return {
        contents: [{ uri: uri.href, mimeType: "text/plain", text: doc.passages.map((p) => p.text).join("\n\n") }],
      };
    },
  );
  return server;
}
