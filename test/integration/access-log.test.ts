import { afterEach, describe, expect, it, vi } from "vitest";
import { callWith, newTenant } from "../support/http";

afterEach(() => {
  vi.restoreAllMocks();
});

function captureConsole() {
  const lines: string[] = [];
  for (const level of ["log", "warn", "error"] as const) {
    vi.spyOn(console, level).mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
  }
  return () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("access log", () => {
  it("writes one JSON line per request with request id, tenant, route, status and duration", async () => {
    const tenant = await newTenant();
    const logs = captureConsole();
    const res = await callWith({ LOG_LEVEL: "info" }, "GET", "/v1/api-keys", {
      token: tenant.adminKey,
      headers: { "X-Request-Id": "req-access-log-1" },
    });
    expect(res.status).toBe(200);
    const requestLines = logs().filter((l) => l.msg === "request");
    expect(requestLines).toHaveLength(1);
    expect(requestLines[0]).toMatchObject({
      level: "info",
      request_id: "req-access-log-1",
      tenant_id: tenant.id,
      route: "/v1/api-keys",
      status: 200,
      method: "GET",
    });
    expect(typeof requestLines[0]?.duration_ms).toBe("number");
  });

  it("names the MCP call a /mcp request made", async () => {
    const tenant = await newTenant();
    const logs = captureConsole();
    const res = await callWith({ LOG_LEVEL: "info" }, "POST", "/mcp", {
      token: tenant.adminKey,
      headers: { Accept: "application/json, text/event-stream" },
      body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "list_collections", arguments: {} } },
    });
    expect(res.status).toBe(200);
    expect(logs().filter((l) => l.msg === "request")).toEqual([
      expect.objectContaining({ route: "/mcp", status: 200, mcp: "tools/call list_collections", tenant_id: tenant.id }),
    ]);
  });

  it("never writes a key or token, even when a request fails", async () => {
    const tenant = await newTenant();
    const logs = captureConsole();
    await callWith({ LOG_LEVEL: "debug" }, "GET", "/v1/api-keys", { token: `${tenant.adminKey}x` });
    await callWith({ LOG_LEVEL: "debug" }, "POST", "/v1/admin/tenants", { token: "test-admin-token", body: "{bad" });
    const text = JSON.stringify(logs());
    expect(text).not.toContain(tenant.adminKey.slice(22));
    expect(text).not.toContain("test-admin-token");
  });

  it("logs nothing below LOG_LEVEL", async () => {
    const logs = captureConsole();
    await callWith({ LOG_LEVEL: "error" }, "GET", "/health/live");
    expect(logs()).toHaveLength(0);
  });
});
