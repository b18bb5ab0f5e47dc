/**
 * Structured logger: one JSON object per line on the console (what `wrangler tail --format json`
 * and Workers Logs index). The logger masks secrets itself, so a careless call site cannot leak
 * an API key, a bearer token, a header or an e-mail address.
 */

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;
/** Fields may be a thunk so that expensive debug detail costs nothing when debug is off. */
export type LazyFields = LogFields | (() => LogFields);

const MASK = "[redacted]";
/** Field names whose values are always secret, whatever they contain. */
const SECRET_KEY =
  /^(authorization|cookie|set-cookie|x-api-key|api[_-]?key|key|secret|.*_secret|.*secret_.*|password|passwd|token|.*_token|value|plaintext|ciphertext|encryption_keys)$/i;
const PATTERNS: Array<[RegExp, string]> = [
  [/\berk_[A-Za-z0-9]+_[A-Za-z0-9_-]+/g, "erk_[redacted]"],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, "$1 [redacted]"],
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, "[email]"],
];

export function maskString(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) {
    out = out.replace(pattern, replacement);
  }
  return out;
}

/** Deep-copies `value` with secrets masked. Depth-limited so a cyclic object cannot hang us. */
export function mask(value: unknown, depth = 0): unknown {
  if (typeof value === "string") {
    return maskString(value);
  }
  if (value === null || typeof value !== "object") {
    return value;
  }
  if (depth > 6) {
    return "[truncated]";
  }
  if (value instanceof Error) {
    return {
      name: value.name,
      message: maskString(value.message),
      stack: value.stack ? maskString(value.stack) : undefined,
    };
  }
  if (value instanceof Headers) {
    return mask(Object.fromEntries(value.entries()), depth + 1);
  }
  if (Array.isArray(value)) {
    return value.map((item) => mask(item, depth + 1));
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) && item !== undefined && item !== null ? MASK : mask(item, depth + 1);
  }
  return out;
}

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LazyFields): void;
  info(msg: string, fields?: LazyFields): void;
  warn(msg: string, fields?: LazyFields): void;
  error(msg: string, fields?: LazyFields): void;
  /** A logger whose lines all carry `fields` (request_id, tenant_id …). */
  child(fields: LogFields): Logger;
  enabled(level: LogLevel): boolean;
}

export type LogSink = (line: string, level: LogLevel) => void;

const consoleSink: LogSink = (line, level) => {
  if (level === "error") {
    console.error(line);
  } else if (level === "warn") {
    console.warn(line);
  } else {
    console.log(line);
  }
};

export function createLogger(level: LogLevel, base: LogFields = {}, sink: LogSink = consoleSink): Logger {
  const threshold = RANK[level];
  const write = (lineLevel: LogLevel, msg: string, fields?: LazyFields): void => {
    if (RANK[lineLevel] < threshold) {
      return;
    }
    const extra = typeof fields === "function" ? fields() : fields;
    const record = mask({ ...base, ...extra }) as LogFields;
    sink(
      JSON.stringify({ time: new Date().toISOString(), level: lineLevel, msg: maskString(msg), ...record }),
      lineLevel,
    );
  };
  return {
    level,
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (fields) => createLogger(level, { ...base, ...fields }, sink),
    enabled: (lineLevel) => RANK[lineLevel] >= threshold,
  };
}
