import { defineConfig } from "drizzle-kit";

/**
 * drizzle-kit generates PostgreSQL migrations (DATABASE_PROVIDER=hyperdrive) from the generated
 * PostgreSQL dialect of the schema; `npm run db:migrate` applies them.
 */
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/adapters/db/schema.pg.ts",
  out: "./migrations-pg",
});
