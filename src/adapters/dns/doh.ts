import { AppError } from "../../errors";
import type { Resolver } from "./interface";

/**
 * DNS over HTTPS, JSON API (`application/dns-json`: Cloudflare's 1.1.1.1, Google): A and AAAA of a
 * name, CNAMEs followed by the resolver. Answers are the records of type 1 (A) and 28 (AAAA).
 */
export class DohResolver implements Resolver {
  readonly name = "doh";

  constructor(
    private readonly endpoint: string,
    private readonly timeoutMs = 3_000,
  ) {}

  async resolve(host: string): Promise<string[]> {
    const lookups = await Promise.all(
      ["A", "AAAA"].map(async (type) => {
        const url = new URL(this.endpoint);
        url.searchParams.set("name", host);
        url.searchParams.set("type", type);
        let res: Response;
        try {
          res = await fetch(url, {
            headers: { accept: "application/dns-json" },
            signal: AbortSignal.timeout(this.timeoutMs),
          });
        } catch (error) {
          throw new AppError("upstream_unavailable", `DNS over HTTPS failed for ${host}.`, { cause: error });
        }
        if (!res.ok) {
          throw new AppError("upstream_unavailable", `DNS over HTTPS answered ${res.status} for ${host}.`);
        }
        return answersOf(await res.text(), host);
      }),
    );
    return lookups.flat();
  }
}

/**
 * The A and AAAA data of a DNS JSON answer; anything else (a captive portal's HTML, a truncated
 * body, a record without data) is the resolver failing, never a server error of ours.
 */
function answersOf(text: string, host: string): string[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new AppError("upstream_unavailable", `DNS over HTTPS answered something other than JSON for ${host}.`, {
      cause: error,
    });
  }
  const answer = typeof body === "object" && body !== null ? (body as { Answer?: unknown }).Answer : undefined;
  if (answer !== undefined && !Array.isArray(answer)) {
    throw new AppError("upstream_unavailable", `DNS over HTTPS answered malformed records for ${host}.`);
  }
  const records = (answer ?? []) as Array<{ type?: unknown; data?: unknown }>;
  return records
    .filter((a) => a.type === 1 || a.type === 28)
    .map((a) => {
      if (typeof a.data !== "string") {
        throw new AppError("upstream_unavailable", `DNS over HTTPS answered a record without data for ${host}.`);
      }
      return a.data;
    });
}
