import { describe, expect, it } from "vitest";
import { createLogger, type LogLevel, mask } from "../../src/lib/log";

function capture(level: LogLevel) {
  const lines: string[] = [];
  const logger = createLogger(level, { request_id: "r1" }, (line) => lines.push(line));
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("logger", () => {
  it("writes one JSON object per line with level, msg and base fields", () => {
    const { logger, parsed } = capture("info");
    logger.info("hello", { route: "/x", status: 200 });
    expect(parsed()).toEqual([
      expect.objectContaining({ level: "info", msg: "hello", request_id: "r1", route: "/x", status: 200 }),
    ]);
  });

  it("drops lines below the level and never computes lazy debug fields", () => {
    const { logger, lines } = capture("info");
    let computed = false;
    logger.debug("expensive", () => {
      computed = true;
      return { big: 1 };
    });
    expect(lines).toHaveLength(0);
    expect(computed).toBe(false);
    const debug = capture("debug");
    debug.logger.debug("expensive", () => ({ big: 1 }));
    expect(debug.parsed()[0]).toMatchObject({ big: 1 });
  });

  it("masks API keys, bearer tokens, e-mails and secret fields wherever they appear", () => {
    const { logger, lines } = capture("info");
    const key = "erk_AbCdEfGh12345678_ZyXwVuTsRqPoNmLkJiHgFeDcBa987654";
    logger.warn(`bad key ${key} from ops@example.com`, {
      headers: { Authorization: "Bearer abc.def.ghi", Cookie: "session=1", "content-type": "text/plain" },
      nested: { note: `token Bearer xyz123 and ${key}`, password: "hunter2", api_key: key },
      error: new Error(`failed for ${key}`),
    });
    const line = lines.join("\n");
    expect(line).not.toContain("ZyXwVuTsRqPoNmLkJiHgFeDcBa987654");
    expect(line).not.toContain("ops@example.com");
    expect(line).not.toContain("abc.def.ghi");
    expect(line).not.toContain("xyz123");
    expect(line).not.toContain("hunter2");
    expect(line).not.toContain("session=1");
    expect(line).toContain("text/plain");
  });

  it("child loggers carry their fields", () => {
    const { logger, parsed } = capture("info");
    logger.child({ tenant_id: "t1" }).info("x");
    expect(parsed()[0]).toMatchObject({ request_id: "r1", tenant_id: "t1" });
  });

  it("mask survives cycles", () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => JSON.stringify(mask(a))).not.toThrow();
  });
});
