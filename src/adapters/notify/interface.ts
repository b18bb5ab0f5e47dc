/**
 * Where a tenant's notifications live: an ordered, gap-free event log per tenant with read state,
 * and the tenant's WebSockets. The default is one NotificationHub Durable Object per tenant.
 */
export interface NewEvent {
  /** Unique per event: publishing the same id again is a no-op (retries are safe). */
  id: string;
  type: string;
  data: Record<string, unknown>;
  createdAt?: number;
}

export interface StoredEvent {
  seq: number;
  id: string;
  type: string;
  data: Record<string, unknown>;
  created_at: string;
}

export interface EventPage {
  items: Array<StoredEvent & { read: boolean }>;
  next: number | null;
}

export interface NotificationHubs {
  readonly name: string;
  publish(tenantId: string, events: NewEvent[]): Promise<Array<{ id: string; seq: number; duplicate: boolean }>>;
  list(tenantId: string, after: number, limit: number): Promise<EventPage>;
  markRead(tenantId: string, upTo: number): Promise<void>;
  /** Retained events created in `[from, to)`. */
  count(tenantId: string, from: number, to: number): Promise<number>;
  /** Hands an authenticated WebSocket upgrade to the tenant's hub; the response is the 101. */
  connect(tenantId: string, keyId: string, request: Request): Promise<Response>;
  /** Closes every socket of a key (it was revoked). */
  disconnect(tenantId: string, keyId: string, code: number, reason: string): Promise<void>;
}

/** What the Worker tells the hub about a socket it authenticated (trusted headers on `fetch`). */
export const SOCKET_HEADERS = { keyId: "x-edgerag-key-id", tenantId: "x-edgerag-tenant-id" } as const;

/** Close codes of the protocol (docs/api.md, "Notifications"). */
export const CLOSE = {
  unauthorized: 4401,
  forbidden: 4403,
  idle: 4408,
  tooManySockets: 4429,
  tooBig: 1009,
  policy: 1008,
} as const;
