import type { AuthRequest, ClientInfo } from "@cloudflare/workers-oauth-provider";
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../env";
import { AppError, asAppError } from "../errors";
import { escapeHtml } from "../lib/html";
import { keyOf, requireKey } from "../middleware/auth";
import { bearerSecurity, commonErrors, notFound } from "../schemas/common";
import type { GrantOffer } from "../services/oauth-grants";
import { createRoute } from "./route";

/**
 * The OAuth consent page a hosted assistant sends its user to (`/oauth/authorize`), and the
 * tenant's grants under `/v1/oauth/grants`. The page asks for an API key, shows what approving
 * grants (scopes, collections, the key's filter), and hands the grant to the provider, which
 * redirects back to the assistant with a code. No cookie and no session: every step posts the
 * authorization request's query back to the same URL, where the provider checks it again.
 */
export const oauth = new OpenAPIHono<AppEnv>();

const FORM_MAX_BYTES = 4_096;

/** The page's CSP: its one style block, and forms that post here or to the client's redirect. */
function pageHeaders(nonce: string, redirectUri?: string): Record<string, string> {
  let target = "";
  if (redirectUri) {
    const url = new URL(redirectUri);
    target = url.protocol === "http:" || url.protocol === "https:" ? ` ${url.origin}` : ` ${url.protocol}`;
  }
  return {
    "Content-Security-Policy": `default-src 'none'; style-src 'nonce-${nonce}'; form-action 'self'${target}; frame-ancestors 'none'; base-uri 'none'`,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
  };
}

const STYLE =
  "body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d2330}" +
  "h1{font-size:1.4rem}input[type=password]{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}" +
  "button{font:inherit;padding:.5rem 1rem;margin:.75rem .5rem 0 0}.error{color:#a11}code{background:#f2f3f5;padding:0 .2rem}" +
  "ul{padding-left:1.2rem}.muted{color:#5b6270;font-size:.9rem}";

function page(c: Context<AppEnv>, status: 200 | 400 | 403 | 404, body: string, redirectUri?: string) {
  const nonce = crypto.randomUUID().replaceAll("-", "");
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Authorize · EdgeRAG</title><style nonce="${nonce}">${STYLE}</style></head><body>${body}</body></html>`;
  return c.html(html, status, pageHeaders(nonce, redirectUri));
}

function clientName(client: ClientInfo): string {
  return client.clientName?.trim() || client.clientId;
}

/** Step one: which key to grant from. */
function keyForm(c: Context<AppEnv>, client: ClientInfo, authRequest: AuthRequest, error?: string) {
  return page(
    c,
    error ? 403 : 200,
    `<h1>Connect ${escapeHtml(clientName(client))} to EdgeRAG</h1>
<p><strong>${escapeHtml(clientName(client))}</strong> asks to search and ask your documents. Paste an EdgeRAG API key;
the next step shows exactly what it will be allowed to do. The key itself is not given to it.</p>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ""}
<form method="post"><label for="k">API key</label>
<input id="k" name="api_key" type="password" autocomplete="off" required placeholder="erk_…">
<button name="action" value="review">Continue</button><button name="action" value="deny" formnovalidate>Cancel</button></form>
<p class="muted">Returns to ${escapeHtml(new URL(authRequest.redirectUri).host || authRequest.redirectUri)}</p>`,
    authRequest.redirectUri,
  );
}

/** Step two: what approving grants. */
function review(c: Context<AppEnv>, client: ClientInfo, authRequest: AuthRequest, apiKey: string, offer: GrantOffer) {
  const scopes = offer.scopes
    .map((s) => `<li><code>${s}</code>: ${s === "query" ? "search and ask, read documents" : "read documents"}</li>`)
    .join("");
  const collections =
    offer.collections === null
      ? "<li>every collection of your tenant</li>"
      : offer.collections.map((col) => `<li>${escapeHtml(col.name)} <code>${escapeHtml(col.id)}</code></li>`).join("");
  return page(
    c,
    200,
    `<h1>Allow ${escapeHtml(clientName(client))}?</h1>
<p>It will be able to, as this key (<code>${escapeHtml(keyOf(c.var.principal).keyId)}</code>):</p><ul>${scopes}</ul>
<p>In:</p><ul>${collections}</ul>
${offer.filter ? "<p>Only documents matching this key's metadata filter.</p>" : ""}
<p class="muted">Access lasts until you revoke it (DELETE /v1/oauth/grants/{id}) or the key is revoked or expires.</p>
<form method="post"><input type="hidden" name="api_key" value="${escapeHtml(apiKey)}">
<button name="action" value="approve">Allow</button><button name="action" value="deny">Deny</button></form>`,
    authRequest.redirectUri,
  );
}

function errorPage(c: Context<AppEnv>, error: unknown) {
  const appError = asAppError(error);
  if (appError.code === "internal") {
    c.var.logger.error("OAuth authorization failed", { error });
  }
  const status = appError.status === 404 ? 404 : appError.status === 403 ? 403 : 400;
  const message = appError.code === "internal" ? "Something went wrong; try again." : appError.message;
  return page(c, status, `<h1>Cannot authorize</h1><p class="error">${escapeHtml(message)}</p>`);
}

oauth.get("/oauth/authorize", async (c) => {
  try {
    const { authRequest, client } = await c.var.services.oauth.read(c.req.raw);
    return keyForm(c, client, authRequest);
  } catch (error) {
    return errorPage(c, error);
  }
});

oauth.post("/oauth/authorize", async (c) => {
  try {
    if (Number(c.req.header("content-length") ?? FORM_MAX_BYTES + 1) > FORM_MAX_BYTES) {
      throw new AppError("payload_too_large", "The form is too large.");
    }
    const { authRequest, client } = await c.var.services.oauth.read(c.req.raw);
    const form = await c.req.parseBody();
    const action = String(form.action ?? "");
    if (action === "deny") {
      const back = new URL(authRequest.redirectUri);
      back.searchParams.set("error", "access_denied");
      if (authRequest.state) {
        back.searchParams.set("state", authRequest.state);
      }
      return c.redirect(back.href, 302);
    }
    const apiKey = String(form.api_key ?? "").trim();
    const credentials = await c.var.services.auth.authenticate(`Bearer ${apiKey}`, false);
    if (credentials.kind !== "ok" || credentials.principal.kind !== "key") {
      return keyForm(c, client, authRequest, credentials.kind === "invalid" ? credentials.reason : "Paste an API key.");
    }
    c.set("principal", credentials.principal);
    const principal = credentials.principal;
    let offer: GrantOffer;
    try {
      offer = await c.var.services.oauth.offer(principal, authRequest);
    } catch (error) {
      return keyForm(c, client, authRequest, asAppError(error).message);
    }
    if (action === "approve") {
      const origin = new URL(c.req.url).origin;
      return c.redirect(await c.var.services.oauth.approve(principal, authRequest, client, origin), 302);
    }
    return review(c, client, authRequest, apiKey, offer);
  } catch (error) {
    return errorPage(c, error);
  }
});

const GrantSchema = z
  .object({
    id: z.string(),
    client_id: z.string(),
    client_name: z.string().nullable(),
    key_id: z.string().nullable().openapi({ description: "The API key the grant was made with" }),
    scopes: z.array(z.string()),
    created_at: z.string().openapi({ format: "date-time" }),
    expires_at: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("OAuthGrant");

const listGrants = createRoute({
  method: "get",
  operationId: "listOAuthGrants",
  path: "/v1/oauth/grants",
  tags: ["api keys"],
  summary: "The tenant's OAuth grants to hosted assistants (MCP), newest 100",
  security: bearerSecurity,
  middleware: [requireKey("admin")] as const,
  responses: {
    200: {
      description: "Grants",
      content: { "application/json": { schema: z.object({ items: z.array(GrantSchema) }).openapi("OAuthGrantList") } },
    },
    ...commonErrors,
    ...notFound,
  },
});

oauth.openapi(listGrants, async (c) => c.json(await c.var.services.oauth.list(keyOf(c.var.principal)), 200));

const revokeGrant = createRoute({
  method: "delete",
  operationId: "revokeOAuthGrant",
  path: "/v1/oauth/grants/{id}",
  tags: ["api keys"],
  summary: "Revoke an OAuth grant and every token issued under it",
  security: bearerSecurity,
  middleware: [requireKey("admin")] as const,
  request: {
    params: z.object({
      id: z
        .string()
        .min(1)
        .max(128)
        .regex(/^[A-Za-z0-9_-]+$/, "must be a grant id")
        .openapi({ param: { name: "id", in: "path" } }),
    }),
  },
  responses: { 204: { description: "Revoked" }, ...commonErrors, ...notFound },
});

oauth.openapi(revokeGrant, async (c) => {
  await c.var.services.oauth.revoke(keyOf(c.var.principal), c.req.valid("param").id);
  return c.body(null, 204);
});
