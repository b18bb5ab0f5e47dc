import { z } from "@hono/zod-openapi";
import { IsoDate } from "./common";
import { MetadataExpression } from "./search";

/** Scopes a token may carry: what a browser needs, never `admin`. */
export const TOKEN_SCOPES = ["query", "ingest"] as const;

export const CreateTokenBody = z
  .object({
    scopes: z
      .array(z.enum(TOKEN_SCOPES))
      .min(1)
      .max(2)
      .refine((s) => new Set(s).size === s.length, "scopes must be unique")
      .default(["query"])
      .openapi({ uniqueItems: true, description: "Default: query" }),
    collection_ids: z
      .array(z.string().regex(/^col_[A-Za-z0-9]{16}$/, "must be a collection id"))
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "Default: the minting key's collections (all, for an unrestricted key)" }),
    filter: MetadataExpression.optional().openapi({
      description:
        "A metadata filter ANDed into everything the token searches or asks (the minting key's own filter is ANDed too)",
    }),
    expires_in: z
      .number()
      .int()
      .min(60)
      .max(86_400)
      .default(3_600)
      .openapi({ description: "Seconds until the token stops working (60–86,400; default 3,600)" }),
  })
  .strict()
  .openapi("CreateToken");

export const TokenSchema = z
  .object({
    token: z.string().openapi({ description: "`ert_…`: send it as `Authorization: Bearer <token>`" }),
    token_id: z.string(),
    scopes: z.array(z.enum(TOKEN_SCOPES)),
    collection_ids: z.array(z.string()).nullable(),
    filter: z.record(z.string(), z.unknown()).nullable(),
    expires_at: IsoDate,
  })
  .openapi("Token");

export type CreateTokenInput = z.infer<typeof CreateTokenBody>;
export type TokenView = z.infer<typeof TokenSchema>;
