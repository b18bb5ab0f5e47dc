import { type Schema, Validator } from "@cfworker/json-schema";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN,
  call,
  callQueued,
  ingestText,
  json,
  newCollection,
  newKey,
  newTenant,
  type TestTenant,
} from "../support/http";

/**
 * `/openapi.json` against the server, both ways, with a strict JSON Schema validator (draft
 * 2020-12, formats asserted) that nobody here wrote: every real request body below must validate
 * and be accepted (not 422); each body with an unknown property, without a required one, or with a
 * property of the wrong type (or a repeated item where items are unique, a non-URI where a URI is
 * documented) must fail validation and be refused with 422; every documented enum
 * value and every documented `null` must validate and be accepted. Every operation with a JSON
 * body needs a sample here, so a new operation cannot drift unseen.
 */
type JsonSchema = Record<string, unknown>;
type Doc = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema> };
};
type Operation = {
  operationId: string;
  parameters?: Array<{ name: string; in: string; schema: JsonSchema }>;
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
};

let doc: Doc;
let tenant: TestTenant;
let ids: { collection: string; document: string; key: string };

beforeAll(async () => {
  doc = await json<Doc>(await call("GET", "/openapi.json"));
  tenant = await newTenant("OpenAPI");
  const collection = await newCollection(tenant);
  const document = await ingestText(tenant, collection, "Leave", "Employees receive twenty five days of paid leave.");
  const key = await newKey(tenant, { name: "rotating", scopes: ["query"] });
  ids = { collection, document, key: key.id };
}, 60_000);

/** Real bodies per operation: what a client of the documented API sends. */
const samples = (): Record<string, Array<Record<string, unknown>>> => ({
  createTenant: [{ name: "Roundtrip" }, { name: "Roundtrip", max_rate_tier: "free" }],
  updateTenant: [{ max_rate_tier: "standard" }],
  createApiKey: [
    { name: "reader", scopes: ["query"] },
    { name: "narrow", scopes: ["query", "ingest"], collection_ids: [ids.collection], rate_tier: "free" },
    { name: "filtered", scopes: ["query"], filter: { team: "hr", year: { $gte: 2024 } } },
  ],
  createToken: [{}, { scopes: ["query"], collection_ids: [ids.collection], filter: { team: "hr" }, expires_in: 600 }],
  rotateApiKey: [{}, { grace_seconds: 60 }],
  putSecret: [{ value: "sk-secret" }],
  createCollection: [{ name: `rt-${crypto.randomUUID()}` }],
  uploadDocument: [
    { title: "Pay", text: "Salaries are paid monthly." },
    { title: "Pay", text: "Salaries are paid monthly.", metadata: { team: "hr" }, priority: "low" },
  ],
  upsertDocument: [
    { title: "Leave", text: "Employees receive twenty five days of paid leave each year." },
    { title: "Leave", text: "Employees receive thirty days.", metadata: { team: "hr" }, priority: "high" },
  ],
  uploadDocuments: [
    { documents: [{ title: "t", text: "hello" }] },
    { documents: [{ title: "t", text: "hello", metadata: { a: 1 }, priority: "high" }] },
  ],
  search: [
    { query: "paid leave", collection_ids: [ids.collection] },
    {
      query: "paid leave",
      collection_ids: [ids.collection],
      strategy: "keyword",
      top_k: 3,
      filter: { document_ids: [ids.document] },
    },
    {
      query: "paid leave",
      collection_ids: [ids.collection],
      filter: { metadata: { $or: [{ team: "hr" }, { tags: { $in: ["leave"] } }], year: { $exists: false } } },
    },
  ],
  query: [
    { query: "How many days of leave?", collection_ids: [ids.collection] },
    { query: "How many days of leave?", collection_ids: [ids.collection], mode: "fast", top_k: 3, stream: false },
    {
      query: "And how many carry over?",
      collection_ids: [ids.collection],
      history: [
        { role: "user", content: "How many days of leave?" },
        { role: "assistant", content: "Twenty five. [1]" },
      ],
    },
  ],
  createChatCompletion: [
    {
      model: "edgerag-fast",
      messages: [{ role: "user", content: "How many days of leave?" }],
      collection_ids: [ids.collection],
    },
    {
      model: "edgerag-balanced",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: [{ type: "text", text: "How many days of leave?" }] },
      ],
      collection_ids: [ids.collection],
      stream: false,
      temperature: 0,
      max_tokens: 100,
    },
  ],
  markNotificationsRead: [{ up_to_seq: 0 }],
  publishAlert: [
    { severity: "info", message: "hello" },
    { tenant_id: tenant.id, severity: "warning", message: "hello" },
  ],
  createWebhook: [{ url: "https://hooks.example.test/edgerag", events: ["document.ready"] }],
  createExport: [
    { kind: "query", query: "How many days of leave?", collection_ids: [ids.collection], title: "Leave" },
    { kind: "document", document_id: ids.document },
  ],
});

/** The schema with every `#/components/schemas/…` reference replaced by what it names. */
function deref(node: unknown, depth = 0): unknown {
  if (depth > 20) {
    throw new Error("reference cycle");
  }
  if (Array.isArray(node)) {
    return node.map((n) => deref(n, depth + 1));
  }
  if (node && typeof node === "object") {
    const ref = (node as { $ref?: string }).$ref;
    if (typeof ref === "string") {
      const name = ref.replace("#/components/schemas/", "");
      return deref(doc.components.schemas[name], depth + 1);
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, deref(v, depth + 1)]));
  }
  return node;
}

const validatorFor = (schema: JsonSchema) => new Validator(deref(schema) as Schema, "2020-12", false);

/** Operations with a JSON body, their method, path (ids filled in) and who may call them. */
function operations(): Array<{ id: string; method: string; path: string; schema: JsonSchema; token: string }> {
  const out = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const schema = op.requestBody?.content["application/json"]?.schema;
      if (!schema) {
        continue;
      }
      const path = template
        .replace("/v1/admin/tenants/{id}", `/v1/admin/tenants/${tenant.id}`)
        .replace("/v1/api-keys/{id}", `/v1/api-keys/${ids.key}`)
        .replace("/v1/collections/{id}", `/v1/collections/${ids.collection}`)
        .replace("{name}", "ROUNDTRIP_SECRET")
        .replace("{external_id}", "roundtrip%2Fleave.md");
      out.push({
        id: op.operationId,
        method: method.toUpperCase(),
        path,
        schema,
        token: template.startsWith("/v1/admin/") ? ADMIN : tenant.adminKey,
      });
    }
  }
  return out;
}

/** What the object schema of a body says about its properties (the first object branch of a union). */
function objectOf(
  schema: unknown,
): { properties: Record<string, JsonSchema>; required: string[]; additionalProperties: unknown } | undefined {
  const s = deref(schema) as JsonSchema;
  if (s.type === "object" && s.properties) {
    return {
      properties: s.properties as Record<string, JsonSchema>,
      required: (s.required as string[]) ?? [],
      additionalProperties: s.additionalProperties,
    };
  }
  return undefined;
}

/** Operations whose body is an object, with its validator and the first real sample. */
function objectOperations() {
  return operations().flatMap((op) => {
    const object = objectOf(op.schema);
    const [body] = samples()[op.id] ?? [];
    return object && body ? [{ op, validator: validatorFor(op.schema), object, body }] : [];
  });
}

const wrongType = (schema: JsonSchema): unknown => {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  return type === "string" ? 12345 : type === "array" ? "not an array" : type === "object" ? [] : "not a number";
};

describe("/openapi.json round trip (strict JSON Schema validator)", () => {
  it("has a real sample for every operation with a JSON body", () => {
    const known = samples();
    expect(
      operations()
        .filter((op) => !known[op.id])
        .map((op) => op.id),
    ).toEqual([]);
  });

  it("validates every real body, and the server accepts it", async () => {
    for (const op of operations()) {
      const validator = validatorFor(op.schema);
      for (const body of samples()[op.id] ?? []) {
        const result = validator.validate(body);
        expect({ op: op.id, body, errors: result.errors.map((e) => e.error) }).toEqual({
          op: op.id,
          body,
          errors: [],
        });
        // Through memory queues: the exports and documents this queues are never worked on (a
        // render started by the real queue would outlive the test and its browser profile).
        const res = await callQueued(op.method, op.path, { token: op.token, body });
        expect({ op: op.id, body, status: res.status }).not.toMatchObject({ status: 422 });
        expect(res.status).toBeLessThan(500);
      }
    }
  });

  it("refuses, in the document and on the server alike, unknown, missing and mistyped properties", async () => {
    for (const { op, validator, object, body } of objectOperations()) {
      // Every body refuses properties it does not name — but the OpenAI-compatible one, which says
      // so in the document: OpenAI clients send fields EdgeRAG does not use (temperature, tools …).
      const open = object.additionalProperties !== false;
      expect({ op: op.id, open }).toEqual({ op: op.id, open: op.id === "createChatCompletion" });
      const broken: Array<[string, unknown]> = open ? [] : [["unknown property", { ...body, not_a_field: 1 }]];
      for (const name of object.required) {
        const { [name]: _, ...rest } = body;
        broken.push([`without ${name}`, rest]);
      }
      for (const [name, schema] of Object.entries(object.properties)) {
        if (!(name in body)) {
          continue;
        }
        broken.push([`${name} of the wrong type`, { ...body, [name]: wrongType(schema) }]);
        const value = body[name];
        if (schema.uniqueItems === true && Array.isArray(value) && value.length > 0) {
          broken.push([`${name} with a repeated item`, { ...body, [name]: [...value, value[0]] }]);
        }
        if (schema.format === "uri") {
          broken.push([`${name} not a URI`, { ...body, [name]: "not a uri" }]);
        }
      }
      for (const [what, wrong] of broken) {
        const valid = validator.validate(wrong).valid;
        const res = await call(op.method, op.path, { token: op.token, body: wrong });
        expect({ op: op.id, what, valid, status: res.status }).toEqual({ op: op.id, what, valid: false, status: 422 });
      }
    }
  });

  it("accepts every documented enum value and null where the document allows them", async () => {
    for (const { op, validator, object, body } of objectOperations()) {
      for (const [name, schema] of Object.entries(object.properties)) {
        const values = [
          ...((schema.enum as unknown[]) ?? []),
          ...(Array.isArray(schema.type) && schema.type.includes("null") ? [null] : []),
        ];
        for (const value of values) {
          const variant = { ...body, [name]: value };
          expect({ op: op.id, name, value, valid: validator.validate(variant).valid }).toMatchObject({ valid: true });
          const res = await call(op.method, op.path, { token: op.token, body: variant });
          expect({ op: op.id, name, value, status: res.status }).not.toMatchObject({ status: 422 });
        }
      }
    }
  });

  it("accepts null for every query parameter documented as nullable", async () => {
    for (const [template, ops] of Object.entries(doc.paths)) {
      if (template.includes("{")) {
        continue;
      }
      for (const [method, op] of Object.entries(ops)) {
        for (const param of op.parameters ?? []) {
          const type = (param.schema as JsonSchema).type;
          if (param.in !== "query" || !(Array.isArray(type) && type.includes("null"))) {
            continue;
          }
          const headers = template.endsWith("/ws") ? { upgrade: "websocket" } : undefined;
          const res = await call(method.toUpperCase(), `${template}?${param.name}=null`, {
            token: tenant.adminKey,
            headers,
          });
          expect({ route: template, param: param.name, status: res.status }).not.toMatchObject({ status: 422 });
          // A socket it opened is closed again.
          res.webSocket?.accept();
          res.webSocket?.close(1000, "done");
        }
      }
    }
  });
});
