/**
 * Starting the system programs tests and benchmarks need (Node side). A missing program is an
 * error, unless EDGERAG_SKIP_SYSTEM_TESTS=1 (and not CI): then the dependent tests skip, loudly.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:net";

export function hasProgram(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || !address) {
    throw new Error("could not find a free port");
  }
  return address.port;
}

export interface RedisServer {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** A throwaway redis-server on loopback: no persistence, no protected-mode surprises. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (d) => {
    output += String(d);
  });
  const started = Date.now();
  while (!output.includes("Ready to accept connections")) {
    if (child.exitCode !== null || Date.now() - started > 10_000) {
      child.kill("SIGKILL");
      throw new Error(`redis-server did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    port,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          return resolve();
        }
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** A TCP server that accepts connections and never answers: a hung dependency. */
export async function startHangServer(): Promise<{ url: string; server: Server }> {
  const server = createServer(() => {
    // Hold the socket open and say nothing.
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, server };
}

export function requireOrSkip(program: string): string {
  if (hasProgram(program)) {
    return "";
  }
  // Only someone who chose to skip gets a skip: `npm test` installs what is missing first.
  if (process.env.EDGERAG_SKIP_SYSTEM_TESTS === "1" && !process.env.CI) {
    const message = `${program} not found: the tests that need it are SKIPPED (EDGERAG_SKIP_SYSTEM_TESTS=1).`;
    console.warn(`\n${"!".repeat(100)}\n!! ${message}\n${"!".repeat(100)}\n`);
    return message;
  }
  throw new Error(
    `${program} is required by the test suite. Run \`npm test\` (it installs it when it can) or ` +
      `\`sudo npm run setup:local -- ${program}\`; EDGERAG_SKIP_SYSTEM_TESTS=1 skips those suites instead.`,
  );
}
