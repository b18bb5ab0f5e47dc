/**
 * Outbound URL safety (SSRF): which webhook URLs we may call, and which addresses are not public.
 * URLs are parsed by the WHATWG parser, which already turns every numeric IPv4 spelling
 * (decimal `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, short `127.1`) into dotted form, so an
 * IP literal is recognised whatever its spelling. Addresses are classified by `ipaddr.js`.
 */
import ipaddr from "ipaddr.js";

export interface UrlPolicy {
  /** Ports besides 443 the operator allows (WEBHOOK_ALLOWED_PORTS). */
  allowedPorts: number[];
  /** Local only: plain http and loopback addresses (WEBHOOK_ALLOW_LOOPBACK). */
  allowLoopback: boolean;
}

/** Names that are never public, whatever DNS says. */
const PRIVATE_SUFFIXES = [".localhost", ".local", ".internal", ".intranet", ".lan", ".home.arpa", ".arpa", ".corp"];

/** Why the URL may not be called, or undefined when it may (before DNS: see `privateAddress`). */
export function refuseUrl(text: string, policy: UrlPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not a URL";
  }
  const host = url.hostname.toLowerCase().replace(/\.+$/, "");
  const loopbackOk = policy.allowLoopback && (host === "127.0.0.1" || host === "localhost" || host === "[::1]");
  if (url.protocol !== "https:" && !(loopbackOk && url.protocol === "http:")) {
    return "must use https";
  }
  if (url.username !== "" || url.password !== "") {
    return "must not carry credentials";
  }
  if (url.port !== "" && !loopbackOk && !policy.allowedPorts.includes(Number(url.port))) {
    return "must use port 443";
  }
  if (loopbackOk) {
    return undefined;
  }
  if (host === "" || host.startsWith("[") || isIpv4(host)) {
    return "must name a host, not an IP address";
  }
  if (host === "localhost" || PRIVATE_SUFFIXES.some((suffix) => host.endsWith(suffix))) {
    return "must be a public host";
  }
  if (!host.includes(".")) {
    return "must be a fully qualified public host name";
  }
  return undefined;
}

function isIpv4(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

/** An IPv4 address embedded in an IPv6 one (NAT64, 6to4, IPv4-compatible), to be judged as IPv4. */
function embeddedV4(ip: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = ip.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
  switch (ip.range()) {
    case "ipv4Mapped":
      return ip.toIPv4Address();
    case "rfc6052": // NAT64 (64:ff9b::/96)
      return v4(p[6] ?? 0, p[7] ?? 0);
    case "6to4": // 2002:AABB:CCDD::/48
      return v4(p[1] ?? 0, p[2] ?? 0);
    default:
      // IPv4-compatible (::a.b.c.d): all zero but the last 32 bits, and not :: or ::1.
      return p.slice(0, 6).every((g) => g === 0) && (p[6] ?? 0) !== 0 ? v4(p[6] ?? 0, p[7] ?? 0) : undefined;
  }
}

/**
 * Whether an address (as DNS returned it) is not a public unicast address: anything `ipaddr.js`
 * does not classify as `unicast` (private, loopback, link-local and the metadata address,
 * CGNAT, multicast, documentation, benchmarking, reserved …), an IPv6 address that embeds a
 * non-public IPv4 one, and anything that is not a canonical address at all.
 */
export function privateAddress(address: string): boolean {
  const text = address.replace(/^\[|\]$/g, "");
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return ipaddr.IPv4.parse(text).range() !== "unicast";
  }
  if (!text.includes(":") || !ipaddr.IPv6.isValid(text)) {
    return true;
  }
  const ip = ipaddr.IPv6.parse(text);
  const v4 = embeddedV4(ip);
  return v4 ? v4.range() !== "unicast" : ip.range() !== "unicast";
}
