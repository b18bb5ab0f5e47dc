import type { TestProject } from "vitest/node";
import { startRedisRestShim } from "./redis-rest-shim";
import { startWorkerServer } from "./serve-worker";
import { requireOrSkip, startHangServer, startRedis } from "./system";

declare module "vitest" {
  export interface ProvidedContext {
    upstashUrl: string;
    upstashToken: string;
    upstashSkip: string;
    hangUrl: string;
    workerUrl: string;
  }
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
  const skip = requireOrSkip("redis-server");
  project.provide("upstashSkip", skip);
  if (skip) {
    project.provide("upstashUrl", "http://127.0.0.1:9");
    return async () => {
      await worker.stop();
      await new Promise<void>((resolve) => hang.server.close(() => resolve()));
    };
  }
  const redis = await startRedis();
  const shim = await startRedisRestShim({ redisPort: redis.port, token });
  project.provide("upstashUrl", shim.url);
  return async () => {
    await worker.stop();
    await shim.close();
    await redis.stop();
    await new Promise<void>((resolve) => hang.server.close(() => resolve()));
  };
}
