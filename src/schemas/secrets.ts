import { z } from "@hono/zod-openapi";
import { IsoDate } from "./common";

export const SecretNameParam = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, "must start with a letter; letters, digits and _ only; at most 64")
    .openapi({ param: { name: "name", in: "path" }, example: "OPENAI_API_KEY" }),
});

export const PutSecretBody = z
  .object({ value: z.string().min(1).max(8192).openapi({ description: "Stored encrypted; never returned." }) })
  .strict()
  .openapi("PutSecret");

export const SecretListSchema = z
  .object({
    items: z.array(
      z.object({ name: z.string(), key_version: z.number().int(), created_at: IsoDate, updated_at: IsoDate }),
    ),
  })
  .openapi("SecretList");

export const ReencryptResultSchema = z
  .object({
    re_encrypted: z.number().int(),
    failed: z
      .number()
      .int()
      .openapi({ description: "Secrets that did not open (missing key or tampered row); left unchanged" }),
    key_version: z.number().int(),
  })
  .openapi("ReencryptResult");
