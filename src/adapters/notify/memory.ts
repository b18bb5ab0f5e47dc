import { AppError } from "../../errors";
import type { EventPage, NewEvent, NotificationHubs, StoredEvent } from "./interface";

/** Per-tenant event logs in memory, for unit tests of the producers; no WebSockets. */
export class MemoryHubs implements NotificationHubs {
  readonly name = "memory";
  readonly logs = new Map<string, StoredEvent[]>();
  readonly #read = new Map<string, number>();

  async publish(tenantId: string, events: NewEvent[]) {
    const log = this.logs.get(tenantId) ?? [];
    this.logs.set(tenantId, log);
    return events.map((event) => {
      const existing = log.find((e) => e.id === event.id);
      if (existing) {
        return { id: event.id, seq: existing.seq, duplicate: true };
      }
      const seq = log.length + 1;
      const created = new Date(event.createdAt ?? Date.now()).toISOString();
      log.push({ seq, id: event.id, type: event.type, data: event.data, created_at: created });
      return { id: event.id, seq, duplicate: false };
    });
  }

  async list(tenantId: string, after: number, limit: number): Promise<EventPage> {
    const read = this.#read.get(tenantId) ?? 0;
    const rest = (this.logs.get(tenantId) ?? []).filter((e) => e.seq > after);
    const items = rest.slice(0, limit).map((e) => ({ ...e, read: e.seq <= read }));
    return { items, next: rest.length > limit ? (items.at(-1)?.seq ?? null) : null };
  }

  async count(tenantId: string, from: number, to: number): Promise<number> {
    return (this.logs.get(tenantId) ?? []).filter((e) => {
      const at = Date.parse(e.created_at);
      return at >= from && at < to;
    }).length;
  }

  async markRead(tenantId: string, upTo: number): Promise<void> {
    this.#read.set(tenantId, Math.max(this.#read.get(tenantId) ?? 0, upTo));
  }

  async connect(): Promise<Response> {
    throw new AppError("misconfigured", "The in-memory notification hubs have no WebSockets.");
  }

  async disconnect(): Promise<void> {}
}
