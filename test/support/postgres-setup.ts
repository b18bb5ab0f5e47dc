import type { TestProject } from "vitest/node";
// @ts-expect-error: a Node script without types (scripts/lib/postgres.mjs)
import { temporaryDatabase } from "../../scripts/lib/postgres.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

/**
 * The `integration-postgres` project's store: a database of its own on the local cluster, with
 * migrations-pg/ applied, dropped when the run ends. Without a cluster that starts, the run fails.
 */
export default async function setup(project: TestProject) {
  const database = await temporaryDatabase("edgerag_test");
  // The Worker's binding goes through the local pool, as Hyperdrive's does in production.
  project.provide("postgresUrl", database.pooled);
  return () => database.drop();
}
