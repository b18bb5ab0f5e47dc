#!/usr/bin/env node
// The MCP server end to end, as a hosted assistant meets it: the built Worker served on loopback,
// the official MCP client (Streamable HTTP) in Node over real HTTP — tools with an API key, then
// the whole OAuth flow (discovery from the 401, dynamic client registration, PKCE, the consent page
// posted as a browser would, the code exchanged, tools called with the token, a refresh).
// Run by `npm test` after the vitest suite.
import assert from "node:assert/strict";
import { auth, UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { EdgeRAG } from "../sdk/src/index.ts";
import { api, newTenant } from "./lib/notify-clients.mjs";
import { buildWorker, serveWorker } from "./lib/serve.mjs";

const { url, mf } = await serveWorker({ scriptPath: buildWorker() });

async function connect(options) {
  const client = new Client({ name: "e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), options));
  return client;
}

/** The assistant's OAuth state, in memory. */
function assistant() {
  const memo = { tokens: undefined, client: undefined, verifier: "", authorizationUrl: undefined };
  return {
    memo,
    redirectUrl: "http://127.0.0.1:6274/callback",
    clientMetadata: {
      client_name: "E2E Assistant",
      redirect_uris: ["http://127.0.0.1:6274/callback"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      scope: "query",
    },
    clientInformation: () => memo.client,
    saveClientInformation: (info) => {
      memo.client = info;
    },
    tokens: () => memo.tokens,
    saveTokens: (tokens) => {
      memo.tokens = tokens;
    },
    redirectToAuthorization: (u) => {
      memo.authorizationUrl = u;
    },
    saveCodeVerifier: (v) => {
      memo.verifier = v;
    },
    codeVerifier: () => memo.verifier,
  };
}

try {
  const tenant = await newTenant(url);
  const { body: collection } = await api(url, "POST", "/v1/collections", { token: tenant.key, body: { name: "hb" } });
  const { body: doc } = await api(url, "POST", `/v1/collections/${collection.id}/documents`, {
    token: tenant.key,
    body: {
      title: "Leave policy",
      text: "Employees receive twenty five days of paid vacation every year.",
      priority: "high",
    },
  });
  await new EdgeRAG({ baseUrl: url, apiKey: tenant.key }).waitReady(doc.id);

  // With an API key.
  const keyed = await connect({ requestInit: { headers: { Authorization: `Bearer ${tenant.key}` } } });
  const { tools } = await keyed.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), [
    "ask",
    "get_document",
    "list_collections",
    "list_documents",
    "search",
  ]);
  const calls = {
    list_collections: {},
    list_documents: { collection_id: collection.id },
    get_document: { document_id: doc.id },
    search: { query: "paid vacation", collection_ids: [collection.id] },
    ask: { query: "How many days of paid vacation?", collection_ids: [collection.id], mode: "fast" },
  };
  for (const [name, args] of Object.entries(calls)) {
    const result = await keyed.callTool({ name, arguments: args });
    assert.ok(!result.isError, `${name}: ${result.content?.[0]?.text}`);
  }
  const answer = await keyed.callTool({ name: "ask", arguments: calls.ask });
  assert.match(answer.structuredContent.answer, /twenty five days/);
  await keyed.close();

  // OAuth, as a hosted assistant: the 401 leads to discovery and registration.
  const provider = assistant();
  await assert.rejects(connect({ authProvider: provider }), UnauthorizedError);
  const authorize = provider.memo.authorizationUrl;
  assert.equal(authorize.pathname, "/oauth/authorize");
  // The person: the consent page, the key pasted, the review, Allow.
  const page = await fetch(authorize);
  assert.equal(page.status, 200);
  const post = (fields) => fetch(authorize, { method: "POST", body: new URLSearchParams(fields), redirect: "manual" });
  assert.match(await (await post({ api_key: tenant.key, action: "review" })).text(), /Allow E2E Assistant\?/);
  const allowed = await post({ api_key: tenant.key, action: "approve" });
  assert.equal(allowed.status, 302);
  const code = new URL(allowed.headers.get("location")).searchParams.get("code");
  assert.equal(await auth(provider, { serverUrl: new URL(`${url}/mcp`), authorizationCode: code }), "AUTHORIZED");
  const oauthed = await connect({ authProvider: provider });
  const viaToken = await oauthed.callTool({ name: "ask", arguments: calls.ask });
  assert.match(viaToken.structuredContent.answer, /twenty five days/);
  await oauthed.close();
  // A refresh gives a new access token that works too.
  const before = provider.memo.tokens.access_token;
  assert.equal(await auth(provider, { serverUrl: new URL(`${url}/mcp`) }), "AUTHORIZED");
  assert.notEqual(provider.memo.tokens.access_token, before);
  const refreshed = await connect({ authProvider: provider });
  assert.equal((await refreshed.listTools()).tools.length, 5);
  await refreshed.close();
  const grants = await api(url, "GET", "/v1/oauth/grants", { token: tenant.key });
  assert.equal(grants.body.items.length, 1);
  console.log(`e2e mcp (${url}): 5 tools over an API key; OAuth registration, consent, token, refresh and tools`);
} catch (error) {
  console.error("e2e mcp failed:", error);
  process.exitCode = 1;
} finally {
  await mf.dispose();
}
