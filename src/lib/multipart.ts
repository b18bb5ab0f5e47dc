/**
 * multipart/form-data over a body already in memory, parsed by @remix-run/multipart-parser: each
 * file stays a view of the body's bytes (a `File` from `Request.formData()` is a copy, and reading
 * it is another).
 */
import { MaxPartsExceededError, MultipartParseError, parseMultipart } from "@remix-run/multipart-parser";

/** A file field: its name and a view of the body's bytes. */
export class FilePart {
  constructor(
    readonly name: string,
    readonly bytes: Uint8Array,
  ) {}
}

export const MAX_FORM_PARTS = 16;

export type FormFields = Map<string, string | FilePart>;

/** The body's fields (text, or a `FilePart` where the field has a filename), or what is wrong. */
export function parseForm(bytes: Uint8Array, contentType: string): { fields: FormFields } | { problem: string } {
  const boundary = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  if (!boundary) {
    return { problem: "Malformed multipart/form-data body (no boundary)." };
  }
  const fields: FormFields = new Map();
  try {
    for (const part of parseMultipart(bytes, {
      boundary: boundary[1] ?? boundary[2] ?? "",
      maxFileSize: bytes.byteLength,
      maxTotalSize: bytes.byteLength,
      maxParts: MAX_FORM_PARTS,
    })) {
      const name = part.name;
      if (name === undefined) {
        continue;
      }
      if (fields.has(name)) {
        return { problem: `The form field \`${name}\` is sent more than once.` };
      }
      // One input buffer gives each part one chunk: a subarray of the body.
      const content = part.content.length === 1 ? (part.content[0] as Uint8Array) : part.bytes;
      fields.set(name, part.isFile ? new FilePart(part.filename ?? "", content) : part.text);
    }
  } catch (error) {
    if (error instanceof MaxPartsExceededError) {
      return { problem: `A form may have at most ${MAX_FORM_PARTS} fields.` };
    }
    if (error instanceof MultipartParseError) {
      return { problem: "Malformed multipart/form-data body." };
    }
    throw error;
  }
  return { fields };
}
