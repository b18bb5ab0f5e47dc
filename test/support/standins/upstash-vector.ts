/**
 * A local stand-in for Upstash Vector's REST API (Node side), as @upstash/vector calls it:
 * `POST /upsert[/ns]` (`{id, vector, metadata?}` or an array) → `"Success"`;
 * `POST /query[/ns]` (`{vector, topK, includeMetadata?, includeVectors?, filter?}`) → matches;
 * `POST /delete[/ns]` (`{ids}` or an array) → `{deleted}`; `POST|GET /info`;
 * `POST|DELETE /delete-namespace/<ns>`; `POST /list-namespaces`; `POST /reset[/ns]`.
 * `Authorization: Bearer <token>`; every answer is `{result}` or `{error, status}`.
 * Similarity COSINE, reported as (1 + cos) / 2 like Upstash. Filters: the documented SQL-like
 * subset `field = 'x'`, `!=`, `<`, `<=`, `>`, `>=`, `IN (…)`, `NOT IN (…)`, `AND`, `OR`, parentheses.
 *
 * Several indexes live side by side: the first path segment names one, `d<dimensions>`
 * (e.g. base URL `http://127.0.0.1:port/d384`), since an Upstash index has fixed dimensions.
 * Stated difference: Upstash indexes asynchronously (`pendingVectorCount`); here it is instant.
 */
import { createServer } from "node:http";
import { listen, readJson, sendJson } from "../node-http";
import { cosine } from "./hashed-model";

type Metadata = Record<string, unknown>;
interface Stored {
  vector: number[];
  metadata: Metadata | undefined;
}
interface UpstashIndex {
  dimensions: number;
  namespaces: Map<string, Map<string, Stored>>;
}

class UpstashFailure extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export async function startUpstashVectorStandIn(token: string): Promise<{ url: string; close: () => Promise<void> }> {
  const indexes = new Map<string, UpstashIndex>();

  const server = createServer(async (req, res) => {
    try {
      if (req.headers.authorization !== `Bearer ${token}`) {
        throw new UpstashFailure("Unauthorized: Invalid auth token", 401);
      }
      const [indexName = "", command = "", ...rest] = new URL(req.url ?? "/", "http://x").pathname.split("/").slice(1);
      const dims = /^d(\d{1,4})$/.exec(indexName);
      if (!dims) {
        throw new UpstashFailure("Not Found", 404);
      }
      let index = indexes.get(indexName);
      if (!index) {
        index = { dimensions: Number(dims[1]), namespaces: new Map() };
        indexes.set(indexName, index);
      }
      const namespace = decodeURIComponent(rest.join("/"));
      const body = req.method === "POST" ? await readJson(req) : null;
      sendJson(res, 200, { result: run(index, command, namespace, body, req.method ?? "GET") });
    } catch (error) {
      const status = error instanceof UpstashFailure ? error.status : 400;
      sendJson(res, status, { error: (error as Error).message, status });
    }
  });
  return listen(server);
}

function run(index: UpstashIndex, command: string, namespace: string, body: unknown, method: string): unknown {
  const space = () => {
    let vectors = index.namespaces.get(namespace);
    if (!vectors) {
      vectors = new Map();
      index.namespaces.set(namespace, vectors);
    }
    return vectors;
  };
  switch (command) {
    case "upsert": {
      const items = Array.isArray(body) ? body : [body];
      for (const item of items as Array<{ id?: unknown; vector?: unknown; metadata?: Metadata }>) {
        if ((typeof item?.id !== "string" && typeof item?.id !== "number") || !Array.isArray(item.vector)) {
          throw new UpstashFailure("Invalid request: each vector needs an id and a vector");
        }
        if (item.vector.length !== index.dimensions) {
          throw new UpstashFailure(`Invalid vector dimension: ${item.vector.length}, expected: ${index.dimensions}`);
        }
      }
      const vectors = space();
      for (const item of items as Array<{ id: string; vector: number[]; metadata?: Metadata }>) {
        vectors.set(String(item.id), { vector: item.vector, metadata: item.metadata });
      }
      return "Success";
    }
    case "query": {
      const q = body as {
        vector?: number[];
        topK?: number;
        includeMetadata?: boolean;
        includeVectors?: boolean;
        filter?: string;
      };
      if (!Array.isArray(q?.vector)) {
        throw new UpstashFailure("Invalid request: vector is required");
      }
      if (q.vector.length !== index.dimensions) {
        throw new UpstashFailure(`Invalid vector dimension: ${q.vector.length}, expected: ${index.dimensions}`);
      }
      const topK = q.topK ?? 10;
      if (!Number.isInteger(topK) || topK < 1 || topK > 1_000) {
        throw new UpstashFailure("topK must be between 1 and 1000");
      }
      const predicate = q.filter ? parseFilter(q.filter) : () => true;
      const vector = q.vector;
      return [...(index.namespaces.get(namespace) ?? new Map<string, Stored>()).entries()]
        .filter(([, stored]) => predicate(stored.metadata ?? {}))
        .map(([id, stored]) => ({ id, score: (1 + cosine(vector, stored.vector)) / 2, stored }))
        .sort((a, b) => b.score - a.score)
        .slice(0, topK)
        .map(({ id, score, stored }) => ({
          id,
          score,
          ...(q.includeMetadata && stored.metadata ? { metadata: stored.metadata } : {}),
          ...(q.includeVectors ? { vector: stored.vector } : {}),
        }));
    }
    case "delete": {
      const ids = Array.isArray(body) ? body : (body as { ids?: unknown[] } | null)?.ids;
      if (!Array.isArray(ids)) {
        throw new UpstashFailure("Invalid request: ids are required");
      }
      const vectors = index.namespaces.get(namespace);
      let deleted = 0;
      for (const id of ids) {
        deleted += vectors?.delete(String(id)) ? 1 : 0;
      }
      return { deleted };
    }
    case "info": {
      const namespaces = Object.fromEntries(
        [...index.namespaces].map(([name, vectors]) => [name, { vectorCount: vectors.size, pendingVectorCount: 0 }]),
      );
      const vectorCount = [...index.namespaces.values()].reduce((sum, v) => sum + v.size, 0);
      return {
        vectorCount,
        pendingVectorCount: 0,
        indexSize: vectorCount * index.dimensions * 4,
        dimension: index.dimensions,
        similarityFunction: "COSINE",
        indexType: "DENSE",
        namespaces: { "": { vectorCount: 0, pendingVectorCount: 0 }, ...namespaces },
      };
    }
    case "delete-namespace": {
      if (method !== "POST" && method !== "DELETE") {
        throw new UpstashFailure("Method Not Allowed", 405);
      }
      if (namespace === "") {
        throw new UpstashFailure("Cannot delete the default namespace");
      }
      if (!index.namespaces.delete(namespace)) {
        throw new UpstashFailure(`Namespace ${namespace} does not exist`, 404);
      }
      return "Success";
    }
    case "list-namespaces":
      return ["", ...[...index.namespaces.keys()].filter((n) => n !== "")];
    case "reset":
      index.namespaces.delete(namespace);
      return "Success";
    default:
      throw new UpstashFailure("Not Found", 404);
  }
}

type Predicate = (metadata: Metadata) => boolean;

/** Parses the SQL-like filter subset into a predicate; malformed filters are a 400, as upstream. */
function parseFilter(text: string): Predicate {
  const tokens = text.match(/'(?:[^']|'')*'|"(?:[^"]|"")*"|<=|>=|!=|[=<>(),]|[A-Za-z_][\w.]*|-?\d+(?:\.\d+)?/g) ?? [];
  let at = 0;
  const peek = () => tokens[at]?.toUpperCase();
  const next = () => {
    const token = tokens[at++];
    if (token === undefined) {
      throw new UpstashFailure(`Invalid filter: unexpected end of "${text}"`);
    }
    return token;
  };
  const literal = (): unknown => {
    const token = next();
    if (/^'.*'$/s.test(token)) {
      return token.slice(1, -1).replace(/''/g, "'");
    }
    if (/^".*"$/s.test(token)) {
      return token.slice(1, -1).replace(/""/g, '"');
    }
    if (/^-?\d/.test(token)) {
      return Number(token);
    }
    if (/^(true|false)$/i.test(token)) {
      return token.toLowerCase() === "true";
    }
    throw new UpstashFailure(`Invalid filter: expected a value, got "${token}"`);
  };
  const list = () => {
    if (next() !== "(") {
      throw new UpstashFailure("Invalid filter: expected ( after IN");
    }
    const values = [literal()];
    while (peek() === ",") {
      next();
      values.push(literal());
    }
    if (next() !== ")") {
      throw new UpstashFailure("Invalid filter: expected )");
    }
    return values;
  };
  const factor = (): Predicate => {
    if (peek() === "(") {
      next();
      const inner = expression();
      if (next() !== ")") {
        throw new UpstashFailure("Invalid filter: expected )");
      }
      return inner;
    }
    const field = next();
    if (!/^[A-Za-z_][\w.]*$/.test(field)) {
      throw new UpstashFailure(`Invalid filter: expected a field, got "${field}"`);
    }
    const op = next().toUpperCase();
    if (op === "IN" || (op === "NOT" && next().toUpperCase() === "IN")) {
      const values = list();
      const negate = op === "NOT";
      return (m) => values.includes(m[field]) !== negate;
    }
    const value = literal();
    const compare: Record<string, (a: never, b: never) => boolean> = {
      "=": (a, b) => a === b,
      "!=": (a, b) => a !== b,
      "<": (a, b) => a < b,
      "<=": (a, b) => a <= b,
      ">": (a, b) => a > b,
      ">=": (a, b) => a >= b,
    };
    const fn = compare[op];
    if (!fn) {
      throw new UpstashFailure(`Invalid filter: unknown operator "${op}"`);
    }
    return (m) => fn(m[field] as never, value as never);
  };
  const term = (): Predicate => {
    let left = factor();
    while (peek() === "AND") {
      next();
      const [a, b] = [left, factor()];
      left = (m) => a(m) && b(m);
    }
    return left;
  };
  function expression(): Predicate {
    let left = term();
    while (peek() === "OR") {
      next();
      const [a, b] = [left, term()];
      left = (m) => a(m) || b(m);
    }
    return left;
  }
  const predicate = expression();
  if (at !== tokens.length) {
    throw new UpstashFailure(`Invalid filter: unexpected "${tokens[at]}"`);
  }
  return predicate;
}
