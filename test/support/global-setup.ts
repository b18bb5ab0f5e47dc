import { spawnSync } from "node:child_process";
import type { TestProject } from "vitest/node";
import { startRedisRestShim } from "./redis-rest-shim";
import { startWorkerServer } from "./serve-worker";
import { startOpenAiStandIn } from "./standins/openai";
import { startOtlpReceiver } from "./standins/otlp";
import { startUpstashVectorStandIn } from "./standins/upstash-vector";
import { startCanary, startDohStandIn, startWebhookReceiver } from "./standins/webhooks";
import { requireOrSkip, startHangServer, startRedis } from "./system";

declare module "vitest" {
  export interface ProvidedContext {
    upstashUrl: string;
    upstashToken: string;
    upstashSkip: string;
    hangUrl: string;
    workerUrl: string;
    openAiUrl: string;
    upstashVectorUrl: string;
    upstashVectorToken: string;
    webhookReceiverUrl: string;
    canaryUrl: string;
    dohUrl: string;
    otlpUrl: string;
  }
}

/**
 * Ends the browsers Miniflare's Browser Rendering launched from this process for the export tests:
 * a kept-alive session outlives the run (Miniflare's disposal leaves it), and a live child process
 * kept vitest from exiting after its summary.
 */
function stopBrowsers(): void {
  spawnSync("pkill", ["-TERM", "-P", String(process.pid), "chromium"], { stdio: "ignore" });
}

/** Starts redis-server + the Upstash REST shim and a hung server; tests reach them over loopback. */
export default async function setup(project: TestProject) {
  const token = "test-upstash-token";
  const hang = await startHangServer();
  // The built Worker behind a real HTTP server, for test/e2e (raw sockets, real framing).
  const worker = await startWorkerServer({ ADMIN_TOKEN: "e2e-admin-token" });
  project.provide("workerUrl", worker.url);
  project.provide("hangUrl", hang.url);
  project.provide("upstashToken", token);
  // Stand-ins for providers we cannot reach from here, speaking their wire protocols.
  const openAi = await startOpenAiStandIn();
  const vectorToken = "test-upstash-vector-token";
  const upstashVector = await startUpstashVectorStandIn(vectorToken);
  project.provide("openAiUrl", openAi.url);
  project.provide("upstashVectorUrl", upstashVector.url);
  project.provide("upstashVectorToken", vectorToken);
  const canary = await startCanary();
  const receiver = await startWebhookReceiver(canary.url);
  const doh = await startDohStandIn();
  const otlp = await startOtlpReceiver();
  project.provide("otlpUrl", otlp.url);
  project.provide("canaryUrl", canary.url);
  project.provide("webhookReceiverUrl", receiver.url);
  project.provide("dohUrl", `${doh.url}/dns-query`);
  const standIns = () =>
    Promise.all([openAi.close(), upstashVector.close(), canary.close(), receiver.close(), doh.close(), otlp.close()]);
  const skip = requireOrSkip("redis-server");
  project.provide("upstashSkip", skip);
  if (skip) {
    project.provide("upstashUrl", "http://127.0.0.1:9");
    return async () => {
      stopBrowsers();
      await standIns();
      await worker.stop();
      await new Promise<void>((resolve) => hang.server.close(() => resolve()));
    };
  }
  const redis = await startRedis();
  const shim = await startRedisRestShim({ redisPort: redis.port, token });
  project.provide("upstashUrl", shim.url);
  return async () => {
    stopBrowsers();
    await standIns();
    await worker.stop();
    await shim.close();
    await redis.stop();
    await new Promise<void>((resolve) => hang.server.close(() => resolve()));
  };
}
