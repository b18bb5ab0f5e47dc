import { env } from "cloudflare:workers";
import { createServices, type Invocation, type Services } from "../../src/container";

/** Background work of a test invocation, to await when the test needs it done. */
export function collectingInvocation(): Invocation & { work: Array<Promise<unknown>> } {
  const work: Array<Promise<unknown>> = [];
  return { work, waitUntil: (promise) => void work.push(promise) };
}

/**
 * The production wiring (`createServices`) over the test bindings, with extra settings: tests use
 * exactly what the Worker uses, and replace only the one adapter they are about.
 */
export function servicesFor(
  overrides: Record<string, unknown> = {},
  invocation: Invocation = collectingInvocation(),
): Services {
  return createServices({ ...env, ...overrides } as Env, invocation, { test: true });
}
