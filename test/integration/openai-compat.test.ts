/**
 * The OpenAI-compatible routes, through the official `openai` client, unmodified: only `baseURL`,
 * `apiKey` and (here, in the test runtime) a `fetch` that reaches the Worker in process.
 */
import { exports } from "cloudflare:workers";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, streamText } from "ai";
import OpenAI from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { call, ingestText, json, newCollection, newKey, newTenant, type TestTenant } from "../support/http";

const client = (apiKey: string) =>
  new OpenAI({
    apiKey,
    baseURL: "http://edgerag.test/v1",
    maxRetries: 0,
    fetch: (url: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(url, init)),
  });

type Citation = { n: number; document_id: string; quote: string };

describe("OpenAI-compatible chat completions (official openai client)", () => {
  let tenant: TestTenant;
  let collection: string;
  let doc: string;
  let restricted: string;
  beforeAll(async () => {
    tenant = await newTenant();
    collection = await newCollection(tenant);
    doc = await ingestText(
      tenant,
      collection,
      "Leave policy",
      "Employees receive twenty five days of paid vacation every year. Unused vacation days carry over up to five days into the next year.",
    );
    restricted = (await newKey(tenant, { scopes: ["query"], collection_ids: [collection] })).key;
  });

  it("lists the three modes as models", async () => {
    const models = await client(restricted).models.list();
    expect(models.data.map((m) => m.id)).toEqual(["edgerag-fast", "edgerag-balanced", "edgerag-deep"]);
  });

  it("answers a completion with [n] markers, citations and estimated usage", async () => {
    const completion = await client(restricted).chat.completions.create({
      model: "edgerag-fast",
      messages: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", content: "How many days of paid vacation do employees get?" },
      ],
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe("edgerag-fast");
    const message = completion.choices[0]?.message as OpenAI.ChatCompletionMessage & { citations: Citation[] };
    expect(message.content).toMatch(/twenty five days of paid vacation.*\[1\]$/);
    expect(message.citations.map((c) => c.document_id)).toEqual([doc]);
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    expect(completion.usage?.total_tokens).toBe(
      (completion.usage?.prompt_tokens ?? 0) + (completion.usage?.completion_tokens ?? 0),
    );
    expect(completion.usage?.completion_tokens).toBeGreaterThan(5);
  });

  it("streams chunks ending with [DONE], the last carrying the citations", async () => {
    const stream = await client(restricted).chat.completions.create({
      model: "edgerag-balanced",
      messages: [{ role: "user", content: "How many days of paid vacation do employees get?" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null | undefined;
    let citations: Citation[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      finish ??= chunk.choices[0]?.finish_reason;
      citations = (chunk as unknown as { citations?: Citation[] }).citations ?? citations;
      usage = chunk.usage ?? usage;
    }
    expect(text).toMatch(/twenty five days/);
    expect(finish).toBe("stop");
    expect(citations.map((c) => c.document_id)).toEqual([doc]);
    expect(usage?.total_tokens).toBeGreaterThan(0);
  });

  it("answers a follow-up from the earlier messages", async () => {
    const completion = await client(restricted).chat.completions.create({
      model: "edgerag-fast",
      messages: [
        { role: "user", content: "How many days of paid vacation do employees get?" },
        { role: "assistant", content: "Employees receive twenty five days of paid vacation every year. [1]" },
        { role: "user", content: "And how many of those carry over?" },
      ],
    });
    expect(completion.choices[0]?.message.content).toMatch(/carry over up to five days/);
    expect((completion as unknown as { rewritten_query: string }).rewritten_query).toMatch(
      /^And how many of those carry over\? \(/,
    );
  });

  it("takes collection_ids as an extension field, and refuses in OpenAI's error shape", async () => {
    const completion = await client(tenant.adminKey).chat.completions.create({
      model: "edgerag-fast",
      messages: [{ role: "user", content: "How many days of paid vacation do employees get?" }],
      // @ts-expect-error: an EdgeRAG extension field
      collection_ids: [collection],
    });
    expect(completion.choices[0]?.message.content).toMatch(/twenty five days/);

    await expect(
      client(tenant.adminKey).chat.completions.create({
        model: "edgerag-fast",
        messages: [{ role: "user", content: "vacation" }],
      }),
    ).rejects.toMatchObject({ status: 422, code: "validation_failed", param: "collection_ids" });
    await expect(
      client("erk_nope").chat.completions.create({ model: "edgerag-fast", messages: [{ role: "user", content: "x" }] }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(
      client(restricted).chat.completions.create({
        model: "gpt-4o",
        messages: [{ role: "user", content: "x" }],
      }),
    ).rejects.toMatchObject({ status: 422, type: "invalid_request_error", param: "model" });
    const raw = await call("POST", "/v1/chat/completions", {
      token: restricted,
      body: { model: "edgerag-fast", messages: [{ role: "assistant", content: "x" }] },
    });
    expect(raw.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await json(raw)).toEqual({
      error: {
        message: "The last message must be the user's question.",
        type: "invalid_request_error",
        param: "messages",
        code: "validation_failed",
      },
    });
  });
});

describe("OpenAI-compatible chat completions (the AI SDK's OpenAI-compatible provider)", () => {
  it("generates, streams and follows up, unmodified", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    await ingestText(
      tenant,
      collection,
      "Leave policy",
      "Employees receive twenty five days of paid vacation every year.",
    );
    const key = (await newKey(tenant, { scopes: ["query"], collection_ids: [collection] })).key;
    const edgerag = createOpenAICompatible({
      name: "edgerag",
      baseURL: "http://edgerag.test/v1",
      apiKey: key,
      fetch: (url: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(url, init)),
    });
    const generated = await generateText({
      model: edgerag("edgerag-fast"),
      prompt: "How many days of paid vacation do employees get?",
      maxRetries: 0,
    });
    expect(generated.text).toMatch(/twenty five days of paid vacation.*\[1\]/);
    expect(generated.finishReason).toBe("stop");

    const streamed = streamText({
      model: edgerag("edgerag-balanced"),
      messages: [{ role: "user", content: "How many days of paid vacation do employees get?" }],
      maxRetries: 0,
    });
    let text = "";
    for await (const delta of streamed.textStream) {
      text += delta;
    }
    expect(text).toMatch(/twenty five days/);

    const followUp = await generateText({
      model: edgerag("edgerag-fast"),
      messages: [
        { role: "user", content: "What do employees receive every year?" },
        { role: "assistant", content: "Twenty five days of paid vacation. [1]" },
        { role: "user", content: "How many days is it?" },
      ],
      maxRetries: 0,
    });
    expect(followUp.text).toMatch(/twenty five days/);
  });
});
