import type { NotificationHub } from "../../durable-objects/notification-hub";
import { type NewEvent, type NotificationHubs, SOCKET_HEADERS } from "./interface";

/** One NotificationHub Durable Object per tenant, named by the tenant id (never by client input). */
export class DurableObjectHubs implements NotificationHubs {
  readonly name = "durable-object";

  constructor(private readonly namespace: DurableObjectNamespace<NotificationHub>) {}

  private hub(tenantId: string) {
    return this.namespace.get(this.namespace.idFromName(tenantId));
  }

  async publish(tenantId: string, events: NewEvent[]) {
    return this.hub(tenantId).publish(events);
  }

  async list(tenantId: string, after: number, limit: number) {
    return this.hub(tenantId).list(after, limit);
  }

  async count(tenantId: string, from: number, to: number): Promise<number> {
    return this.hub(tenantId).count(from, to);
  }

  async markRead(tenantId: string, upTo: number): Promise<void> {
    await this.hub(tenantId).markRead(upTo);
  }

  async connect(tenantId: string, keyId: string, request: Request): Promise<Response> {
    const headers = new Headers({ upgrade: "websocket" });
    headers.set(SOCKET_HEADERS.keyId, keyId);
    headers.set(SOCKET_HEADERS.tenantId, tenantId);
    const url = new URL("https://hub/connect");
    const given = new URL(request.url).searchParams;
    for (const name of ["after", "batch"]) {
      const value = given.get(name);
      if (value !== null) {
        url.searchParams.set(name, value);
      }
    }
    const res = await this.hub(tenantId).fetch(url, { headers });
    // A stub's response has immutable headers; the Worker's middleware still adds its own.
    return res.webSocket ? new Response(null, { status: 101, webSocket: res.webSocket, headers: res.headers }) : res;
  }

  async disconnect(tenantId: string, keyId: string, code: number, reason: string): Promise<void> {
    await this.hub(tenantId).disconnect(keyId, code, reason);
  }
}
