/**
 * The MCP server through the official MCP client (`@modelcontextprotocol/sdk` Client and its
 * Streamable HTTP transport), unmodified but for a `fetch` that reaches the Worker in process:
 * tools, scopes, collection restrictions, key filters, resources, progress, and the OAuth flow a
 * hosted assistant runs (discovery, dynamic registration, PKCE, consent, token, refresh).
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { call, ingestText, json, newCollection, newKey, newTenant, type TestTenant } from "../support/http";

/** OAuth needs HTTPS or a loopback host: the tests' Worker answers as localhost. */
const BASE = "http://localhost";
const inProcess = (url: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(url, init));

async function connect(headers: Record<string, string>, authProvider?: OAuthClientProvider) {
  const client = new Client({ name: "edgerag-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), {
    fetch: inProcess,
    requestInit: { headers },
    ...(authProvider ? { authProvider } : {}),
  });
  await client.connect(transport);
  return client;
}

const withKey = (key: string) => connect({ Authorization: `Bearer ${key}` });

type Text = { type: "text"; text: string };
const textOf = (result: object) => ((result as { content?: Text[] }).content?.[0]?.text ?? "") as string;

describe("MCP server (official client, Streamable HTTP)", () => {
  let tenant: TestTenant;
  let collection: string;
  let other: string;
  let doc: string;
  let hrDoc: string;
  beforeAll(async () => {
    tenant = await newTenant();
    collection = await newCollection(tenant, "Policies");
    other = await newCollection(tenant, "Elsewhere");
    doc = await ingestText(
      tenant,
      collection,
      "Leave policy",
      "Employees receive twenty five days of paid vacation every year. Unused vacation days carry over up to five days into the next year.",
    );
    hrDoc = await ingestText(
      tenant,
      collection,
      "Parking",
      "Staff parking is free in the north garage. Visitors pay four euros an hour.",
      { department: "facilities" },
    );
    await ingestText(tenant, other, "Secret plan", "The vacation budget for the secret plan is ninety days.");
  });

  it("lists the five tools with input schemas from the REST bodies", async () => {
    const client = await withKey(tenant.adminKey);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "ask",
      "get_document",
      "list_collections",
      "list_documents",
      "search",
    ]);
    const ask = tools.find((t) => t.name === "ask");
    expect(Object.keys(ask?.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(["query", "collection_ids", "mode", "top_k", "filter", "history"]),
    );
    const mode = ask?.inputSchema.properties?.mode as { enum: string[] } | undefined;
    expect(mode?.enum).toEqual(["fast", "balanced", "deep"]);
    expect(ask?.inputSchema.required).toEqual(["query", "collection_ids"]);
    await client.close();
  });

  it("answers with citations, and abstains when the documents do not say", async () => {
    const client = await withKey(tenant.adminKey);
    const answer = await client.callTool({
      name: "ask",
      arguments: {
        query: "How many days of paid vacation do employees get?",
        collection_ids: [collection],
        mode: "fast",
      },
    });
    expect(answer.isError).toBeFalsy();
    const result = answer.structuredContent as {
      answer: string;
      abstained: boolean;
      citations: { document_id: string }[];
    };
    expect(result.abstained).toBe(false);
    expect(result.answer).toMatch(/twenty five days/);
    expect(result.citations.map((c) => c.document_id)).toContain(doc);
    expect(textOf(answer)).toMatch(/\[1\] Leave policy/);

    const none = await client.callTool({
      name: "ask",
      arguments: { query: "What is the capital of Mongolia?", collection_ids: [collection], mode: "fast" },
    });
    expect((none.structuredContent as { abstained: boolean; citations: unknown[] }).abstained).toBe(true);
    expect((none.structuredContent as { citations: unknown[] }).citations).toEqual([]);
    await client.close();
  });

  it("sends progress notifications while deep mode works", async () => {
    const client = await withKey(tenant.adminKey);
    const progress: Array<{ progress: number; message?: string }> = [];
    const answer = await client.callTool(
      {
        name: "ask",
        arguments: { query: "How many vacation days carry over?", collection_ids: [collection], mode: "deep" },
      },
      undefined,
      { onprogress: (p) => progress.push(p) },
    );
    expect((answer.structuredContent as { answer: string }).answer).toMatch(/five days/);
    expect(progress.map((p) => p.progress)).toEqual([0, 1, 2, 3]);
    expect(progress[1]?.message).toMatch(/Found \d+ sources/);
    await client.close();
  });

  it("searches, lists and reads documents, and serves them as resources", async () => {
    const client = await withKey(tenant.adminKey);
    const search = await client.callTool({
      name: "search",
      arguments: { query: "garage parking", collection_ids: [collection], top_k: 3 },
    });
    const results = (search.structuredContent as { results: { document_id: string }[] }).results;
    expect(results[0]?.document_id).toBe(hrDoc);

    const listed = await client.callTool({ name: "list_documents", arguments: { collection_id: collection } });
    expect((listed.structuredContent as { items: { id: string }[] }).items.map((d) => d.id).sort()).toEqual(
      [doc, hrDoc].sort(),
    );
    const got = await client.callTool({ name: "get_document", arguments: { document_id: doc } });
    expect(textOf(got)).toMatch(/^# Leave policy\n\nEmployees receive twenty five days/);
    expect((got.structuredContent as { truncated: boolean }).truncated).toBe(false);

    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(expect.arrayContaining([`edgerag://documents/${doc}`]));
    const read = await client.readResource({ uri: `edgerag://documents/${doc}` });
    expect((read.contents[0] as { text: string }).text).toMatch(/twenty five days of paid vacation/);
    await client.close();
  });

  it("refuses bad input as a tool error the model can read", async () => {
    const client = await withKey(tenant.adminKey);
    const bad = await client.callTool({ name: "ask", arguments: { query: "", collection_ids: [collection] } });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/query/);
    const missing = await client.callTool({ name: "get_document", arguments: { document_id: "doc_0000000000000000" } });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/^not_found \(404\)/);
    await client.close();
  });

  it("enforces scopes, collection restrictions and key filters as REST does", async () => {
    const ingestOnly = await withKey((await newKey(tenant, { scopes: ["ingest"] })).key);
    const refused = await ingestOnly.callTool({
      name: "search",
      arguments: { query: "vacation", collection_ids: [collection] },
    });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/^forbidden \(403\).*"query" scope/);
    await ingestOnly.close();

    const restricted = await withKey((await newKey(tenant, { scopes: ["query"], collection_ids: [collection] })).key);
    const outside = await restricted.callTool({
      name: "ask",
      arguments: { query: "What is the vacation budget of the secret plan?", collection_ids: [other] },
    });
    expect(outside.isError).toBe(true);
    const collections = await restricted.callTool({ name: "list_collections", arguments: {} });
    expect((collections.structuredContent as { items: { id: string }[] }).items.map((c) => c.id)).toEqual([collection]);
    await restricted.close();

    const filtered = await withKey(
      (await newKey(tenant, { scopes: ["query"], filter: { department: "facilities" } })).key,
    );
    const search = await filtered.callTool({
      name: "search",
      arguments: { query: "vacation days parking", collection_ids: [collection] },
    });
    const ids = (search.structuredContent as { results: { document_id: string }[] }).results.map((r) => r.document_id);
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids)).toEqual(new Set([hrDoc]));
    const hidden = await filtered.callTool({ name: "get_document", arguments: { document_id: doc } });
    expect(textOf(hidden)).toMatch(/^not_found/);
    await filtered.close();
  });

  it("refuses a missing or wrong key with 401 and the OAuth discovery challenge", async () => {
    await expect(withKey("erk_0000000000000000_00000000000000000000000000000000")).rejects.toThrow(/401/);
    const res = await inProcess(`${BASE}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(
      /resource_metadata="http:\/\/localhost\/.well-known\/oauth-protected-resource/,
    );
    const get = await inProcess(`${BASE}/mcp`, { headers: { authorization: `Bearer ${tenant.adminKey}` } });
    expect(get.status).toBe(405);
  });
});

/** A hosted assistant's side of OAuth, kept in memory; the "browser" is the test below. */
class AssistantAuth implements OAuthClientProvider {
  client?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier = "";
  authorizationUrl?: URL;
  get redirectUrl() {
    return "http://localhost:6274/callback";
  }
  get clientMetadata() {
    return {
      client_name: "Test Assistant",
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      scope: "query",
    };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

/** What the person does in the browser: paste the key, review, allow. Returns the redirect. */
async function consent(url: URL, apiKey: string, action: "approve" | "deny" = "approve"): Promise<URL> {
  const page = await inProcess(url);
  expect(page.status).toBe(200);
  expect(await page.text()).toMatch(/Connect Test Assistant to EdgeRAG/);
  const post = (body: Record<string, string>) =>
    inProcess(url, { method: "POST", body: new URLSearchParams(body), redirect: "manual" });
  const review = await post({ api_key: apiKey, action: "review" });
  const html = await review.text();
  expect(review.status).toBe(200);
  expect(html).toMatch(/Allow Test Assistant\?/);
  expect(html).toMatch(/<code>query<\/code>/);
  const done = await post({ api_key: apiKey, action });
  expect(done.status).toBe(302);
  return new URL(done.headers.get("location") ?? "");
}

describe("MCP over OAuth 2.1 (official client's auth flow)", () => {
  let tenant: TestTenant;
  let collection: string;
  let other: string;
  beforeAll(async () => {
    tenant = await newTenant();
    collection = await newCollection(tenant, "Handbook");
    other = await newCollection(tenant, "Board");
    await ingestText(
      tenant,
      collection,
      "Leave policy",
      "Employees receive twenty five days of paid vacation every year.",
    );
  });

  it("registers, authorizes with a key's reach, calls tools, and dies with revocation", async () => {
    const key = await newKey(tenant, { scopes: ["query", "ingest"], collection_ids: [collection] });
    const auth = new AssistantAuth();
    // First attempt: 401 → discovery → dynamic registration → the authorization URL.
    await expect(connect({}, auth)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(auth.client?.client_id).toBeTruthy();
    expect(auth.authorizationUrl?.pathname).toBe("/oauth/authorize");
    const back = await consent(auth.authorizationUrl as URL, key.key);
    expect(back.origin + back.pathname).toBe("http://localhost:6274/callback");
    const code = back.searchParams.get("code") ?? "";

    const transport = new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), {
      fetch: inProcess,
      authProvider: auth,
    });
    await transport.finishAuth(code);
    expect(auth.saved?.scope).toBe("query");
    expect(auth.saved?.refresh_token).toBeTruthy();
    const client = await connect({}, auth);
    const answer = await client.callTool({
      name: "ask",
      arguments: { query: "How many days of paid vacation?", collection_ids: [collection], mode: "fast" },
    });
    expect((answer.structuredContent as { answer: string }).answer).toMatch(/twenty five days/);
    // No wider than the key: its collection restriction holds.
    const outside = await client.callTool({ name: "list_documents", arguments: { collection_id: other } });
    expect(outside.isError).toBe(true);
    await client.close();

    // The tenant sees the grant and revokes it; the token stops working.
    const grants = await json<{ items: Array<{ id: string; key_id: string; client_name: string; scopes: string[] }> }>(
      await call("GET", "/v1/oauth/grants", { token: tenant.adminKey }),
    );
    expect(grants.items).toEqual([
      expect.objectContaining({ key_id: key.id, client_name: "Test Assistant", scopes: ["query"] }),
    ]);
    const revoke = await call("DELETE", `/v1/oauth/grants/${grants.items[0]?.id}`, { token: tenant.adminKey });
    expect(revoke.status).toBe(204);
    const after = await inProcess(`${BASE}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${auth.saved?.access_token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(after.status).toBe(401);
  });

  it("stops a token when its key is deleted, and refuses keys that cannot grant", async () => {
    const key = await newKey(tenant, { scopes: ["query"] });
    const auth = new AssistantAuth();
    await expect(connect({}, auth)).rejects.toBeInstanceOf(UnauthorizedError);
    const back = await consent(auth.authorizationUrl as URL, key.key);
    await new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), {
      fetch: inProcess,
      authProvider: auth,
    }).finishAuth(back.searchParams.get("code") ?? "");
    const client = await connect({}, auth);
    expect((await client.listTools()).tools.length).toBe(5);
    await client.close();
    expect((await call("DELETE", `/v1/api-keys/${key.id}`, { token: tenant.adminKey })).status).toBe(204);
    await expect(connect({}, auth)).rejects.toThrow();

    // An ingest-only key cannot grant `query`; a wrong key is refused on the page.
    const ingest = await newKey(tenant, { scopes: ["ingest"] });
    const second = new AssistantAuth();
    await expect(connect({}, second)).rejects.toBeInstanceOf(UnauthorizedError);
    const url = second.authorizationUrl as URL;
    const wrong = await inProcess(url, {
      method: "POST",
      body: new URLSearchParams({ api_key: "erk_nope", action: "review" }),
    });
    expect(wrong.status).toBe(403);
    expect(await wrong.text()).toMatch(/Malformed API key/);
    const cannot = await inProcess(url, {
      method: "POST",
      body: new URLSearchParams({ api_key: ingest.key, action: "approve" }),
      redirect: "manual",
    });
    expect(cannot.status).toBe(403);
    expect(await cannot.text()).toMatch(/none of the scopes asked for \(query\)/);
    // Denying sends the assistant back with access_denied.
    const denied = await consent(url, tenant.adminKey, "deny");
    expect(denied.searchParams.get("error")).toBe("access_denied");
  });

  it("meters client registration by address, like any anonymous request", async () => {
    const tight = {
      ...env,
      RATE_LIMIT_TIERS: JSON.stringify({
        anonymous: { limit: 10, window_s: 60 },
        operator: { limit: 1_000_000, window_s: 60 },
        standard: { limit: 1_000_000, window_s: 60 },
      }),
    } as Env;
    const register = async () => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request(`${BASE}/oauth/register`, {
          method: "POST",
          headers: { "content-type": "application/json", "cf-connecting-ip": "203.0.113.77" },
          body: JSON.stringify({
            client_name: "Spam",
            redirect_uris: ["http://localhost:1/cb"],
            token_endpoint_auth_method: "none",
          }),
        }),
        tight,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return res;
    };
    // Each registration costs 5 of the anonymous tier's 10 a minute.
    expect((await register()).status).toBe(201);
    expect((await register()).status).toBe(201);
    const refused = await register();
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(((await refused.json()) as { code: string }).code).toBe("rate_limited");
  });
});
