// Node side: bundles the Worker and serves it with Miniflare on loopback, for end-to-end tests
// that need a real HTTP server (raw framing, real clients). Shares the code of the benchmarks.
// @ts-expect-error -- plain ESM helper without type declarations.
import { buildWorker, serveWorker } from "../../scripts/lib/serve.mjs";

export async function startWorkerServer(
  bindings: Record<string, string> = {},
): Promise<{ url: string; stop: () => Promise<void> }> {
  const { url, mf } = (await serveWorker({ scriptPath: buildWorker(), bindings })) as {
    url: string;
    mf: { dispose(): Promise<void> };
  };
  return { url, stop: () => mf.dispose() };
}
