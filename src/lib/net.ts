/**
 * Outbound URL safety (SSRF): which webhook URLs we may call, and which addresses are not public.
 * URLs are parsed by the WHATWG parser, which already turns every numeric IPv4 spelling
 * (decimal `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, short `127.1`) into dotted form, so an
 * IP literal is recognised whatever its spelling.
 */

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

function ipv4Number(address: string): number | undefined {
  const parts = address.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    return undefined;
  }
  return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
}

/** Non-public IPv4 ranges: this network, private, CGNAT, loopback, link-local (metadata), reserved. */
const V4_BLOCKS: Array<[string, number]> = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
];

function privateV4(address: string): boolean {
  const n = ipv4Number(address);
  if (n === undefined) {
    return true;
  }
  return V4_BLOCKS.some(([base, bits]) => {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    return (n & mask) >>> 0 === ((ipv4Number(base) ?? 0) & mask) >>> 0;
  });
}

/** An IPv6 address as eight 16-bit groups (embedded dotted IPv4 allowed), or undefined. */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase().replace(/^\[|\]$/g, "");
  const dotted = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted?.[1]) {
    const n = ipv4Number(dotted[1]);
    if (n === undefined) {
      return undefined;
    }
    text = `${text.slice(0, -dotted[1].length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail, ...rest] = text.split("::");
  if (rest.length > 0 || head === undefined) {
    return undefined;
  }
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = 8 - left.length - right.length;
  if ((tail === undefined && missing !== 0) || missing < 0) {
    return undefined;
  }
  const groups = [...left, ...Array(tail === undefined ? 0 : missing).fill("0"), ...right].map((g) =>
    /^[0-9a-f]{1,4}$/.test(g) ? Number.parseInt(g, 16) : Number.NaN,
  );
  return groups.length === 8 && groups.every((g) => !Number.isNaN(g)) ? groups : undefined;
}

function privateV6(address: string): boolean {
  const g = ipv6Groups(address);
  if (!g) {
    return true;
  }
  const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, h = 0, i = 0] = g;
  const v4 = `${h >> 8}.${h & 255}.${i >> 8}.${i & 255}`;
  if (a === 0 && b === 0 && c === 0 && d === 0 && e === 0 && (f === 0xffff || f === 0)) {
    // ::, ::1, IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible addresses.
    return f === 0 && h === 0 ? true : privateV4(v4);
  }
  if (a === 0x64 && b === 0xff9b) {
    return privateV4(v4); // NAT64
  }
  return (
    (a & 0xfe00) === 0xfc00 || // unique local fc00::/7 (fd00::/8 included)
    (a & 0xffc0) === 0xfe80 || // link-local
    (a & 0xff00) === 0xff00 || // multicast
    (a === 0x2001 && b === 0x0db8) || // documentation
    (a === 0x0100 && b === 0 && c === 0 && d === 0) || // discard
    (a === 0x2002 && privateV4(`${b >> 8}.${b & 255}.${c >> 8}.${c & 255}`)) // 6to4 of a private v4
  );
}

/** Whether an address (as DNS returned it) is not a public unicast address. */
export function privateAddress(address: string): boolean {
  return address.includes(":") ? privateV6(address) : privateV4(address);
}
