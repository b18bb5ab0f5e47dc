import { env } from "cloudflare:workers";
import { MemoryCache } from "../../src/adapters/cache/memory";
import { MemoryRateLimiter } from "../../src/adapters/rate-limit/memory";
import { MemoryVectorIndex } from "../../src/adapters/vector/memory";
import { createServices, type Invocation, type Overrides, type Services } from "../../src/container";
import type { LogLevel } from "../../src/lib/log";

/** Background work of a test invocation, to await when the test needs it done. */
export function collectingInvocation(): Invocation & { work: Array<Promise<unknown>> } {
  const work: Array<Promise<unknown>> = [];
  return { work, waitUntil: (promise) => void work.push(promise) };
}

/**
 * The production wiring (`createServices`) over the test bindings, with extra settings: tests use
 * exactly what the Worker uses, and replace only what they are about (`adapters`).
 */
export function servicesFor(
  settings: Record<string, unknown> = {},
  invocation: Invocation = collectingInvocation(),
  adapters: Overrides = {},
): Services {
  return createServices({ ...env, ...settings } as Env, invocation, { test: true }, adapters);
}

/** The in-memory adapters of the unit layer: nothing shared with other tests, nothing remote. */
export function memoryAdapters(): Overrides {
  return {
    vectors: new MemoryVectorIndex(),
    cache: new MemoryCache(),
    limiter: new MemoryRateLimiter(),
  };
}

/** A log sink that keeps the lines, parsed, for assertions. */
export function collectingLogs(): { lines: Array<{ level: LogLevel; msg: string }>; logSink: Overrides["logSink"] } {
  const lines: Array<{ level: LogLevel; msg: string }> = [];
  return { lines, logSink: (line, level) => void lines.push({ level, msg: JSON.parse(line).msg }) };
}
