import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { keyOf, requireKey, requireKeyOrTicket, requireOperator } from "../middleware/auth";
import { jsonBody } from "../middleware/body-limit";
import { bearerSecurity, commonErrors, notFound, operatorSecurity, problem } from "../schemas/common";
import {
  AlertBody,
  AlertResultSchema,
  MarkReadBody,
  NotificationListSchema,
  NotificationsQuery,
  SocketQuery,
  TicketSchema,
} from "../schemas/notifications";
import { createRoute } from "./route";

/**
 * The tenant's notifications (an unrestricted admin key): the stored log by seq, read state,
 * tickets, and the WebSocket. Operators publish `system.alert`.
 */
export const notifications = new OpenAPIHono<AppEnv>();

const list = createRoute({
  method: "get",
  operationId: "listNotifications",
  path: "/v1/notifications",
  tags: ["notifications"],
  summary: "Stored events after a seq, oldest first, with read state",
  security: bearerSecurity,
  middleware: [requireKey("admin")] as const,
  request: { query: NotificationsQuery },
  responses: {
    200: { description: "A page of events", content: { "application/json": { schema: NotificationListSchema } } },
    ...commonErrors,
  },
});

notifications.openapi(list, async (c) => {
  return c.json(await c.var.services.notifications.list(keyOf(c.var.principal), c.req.valid("query")), 200);
});

const read = createRoute({
  method: "post",
  operationId: "markNotificationsRead",
  path: "/v1/notifications/read",
  tags: ["notifications"],
  summary: "Mark every event up to a seq read (for the tenant)",
  security: bearerSecurity,
  middleware: [requireKey("admin"), jsonBody({ maxBytes: 1_024 })] as const,
  request: { body: { required: true, content: { "application/json": { schema: MarkReadBody } } } },
  responses: { 204: { description: "Marked" }, ...commonErrors },
});

notifications.openapi(read, async (c) => {
  await c.var.services.notifications.markRead(keyOf(c.var.principal), c.req.valid("json").up_to_seq);
  return c.body(null, 204);
});

const ticket = createRoute({
  method: "post",
  operationId: "createNotificationTicket",
  path: "/v1/notifications/ticket",
  tags: ["notifications"],
  summary: "A single-use ticket (60 s) for a browser's WebSocket",
  security: bearerSecurity,
  middleware: [requireKey("admin")] as const,
  responses: {
    201: { description: "The ticket", content: { "application/json": { schema: TicketSchema } } },
    ...commonErrors,
  },
});

notifications.openapi(ticket, async (c) => {
  return c.json(await c.var.services.notifications.ticket(keyOf(c.var.principal)), 201);
});

const socket = createRoute({
  method: "get",
  operationId: "openNotificationSocket",
  path: "/v1/notifications/ws",
  tags: ["notifications"],
  summary: "The live event stream over a WebSocket (Authorization header or ?ticket=)",
  description:
    'Upgrades to a WebSocket. With `?after=N` (or a `{"type":"resume","after":N}` message) every ' +
    'stored event after N is sent first, in order, then `{"type":"ready"}` and the live events. ' +
    "Close codes: 4401, 4403, 4408 idle, 4429 too many sockets, 1009 message too big.",
  security: [...bearerSecurity, {}],
  middleware: [requireKeyOrTicket()] as const,
  request: { query: SocketQuery },
  responses: {
    101: { description: "Switching to the WebSocket protocol" },
    426: problem("Not a WebSocket upgrade"),
    ...commonErrors,
  },
});

notifications.openapi(socket, async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new AppError("upgrade_required", "This route speaks WebSocket: send `Upgrade: websocket`.", {
      headers: { Upgrade: "websocket" },
    });
  }
  const principal = c.var.principal;
  const { ticket: given } = c.req.valid("query");
  if (principal === undefined && given === undefined && c.var.auth_error) {
    throw new AppError("unauthorized", c.var.auth_error);
  }
  const caller = principal?.kind === "key" ? principal : undefined;
  // The hub's 101 response, with the WebSocket: passed through as it is.
  return c.var.services.notifications.connect(c.req.raw, caller, caller ? undefined : given);
});

const alert = createRoute({
  method: "post",
  operationId: "publishAlert",
  path: "/v1/admin/alerts",
  tags: ["admin"],
  summary: "Publish system.alert to one tenant or to every tenant",
  security: operatorSecurity,
  middleware: [requireOperator(), jsonBody({ maxBytes: 8_192 })] as const,
  request: { body: { required: true, content: { "application/json": { schema: AlertBody } } } },
  responses: {
    202: { description: "Accepted for delivery", content: { "application/json": { schema: AlertResultSchema } } },
    ...commonErrors,
    ...notFound,
  },
});

notifications.openapi(alert, async (c) => {
  return c.json(await c.var.services.notifications.alert(c.req.valid("json")), 202);
});
