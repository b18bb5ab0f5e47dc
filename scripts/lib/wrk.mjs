// Running wrk (closed loop, loopback) and reading its report, shared by the HTTP benchmarks.
import { spawnSync } from "node:child_process";

const ms = (value, unit) => Number(value) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? 1);

/** `wrk -t2 -c<connections> -d<seconds>s --latency`; `extra` adds arguments (e.g. `-s script.lua`). */
export function wrk(url, { headers = [], connections = 32, seconds = 8, extra = [] } = {}) {
  const hdr = headers.flatMap((h) => ["-H", h]);
  const out = spawnSync("wrk", ["-t2", `-c${connections}`, `-d${seconds}s`, "--latency", ...hdr, ...extra, url], {
    encoding: "utf8",
  }).stdout;
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(out);
    return m ? ms(m[1], m[2]) : Number.NaN;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: (.*)/.exec(out)?.[1] ?? "none";
  return { rps, p50_ms: pct(50), p99_ms: pct(99), non2xx, socket_errors: socketErrors };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
