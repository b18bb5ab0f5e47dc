/**
 * `npm run ops:build`: writes the Grafana dashboard and alert rules (ops/grafana/) from
 * ops/definitions.mjs. `--check` exits 1 when the files are not what the definitions make (the
 * ops test runs it, so a definition changed without rebuilding fails CI).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { alerts, DATASET, panels, SLO } from "../ops/definitions.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
/** Grafana's import placeholder for the data source the operator picks (a literal `${…}`). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's syntax, not a template.
const INPUT = "${DS_EDGERAG_AE}";
const DATASOURCE = { type: "vertamedia-clickhouse-datasource", uid: INPUT };

export function dashboard() {
  return {
    __inputs: [
      {
        name: "DS_EDGERAG_AE",
        label: "EdgeRAG Analytics Engine",
        description:
          "Altinity ClickHouse data source on https://api.cloudflare.com/client/v4/accounts/<id>/analytics_engine/sql",
        type: "datasource",
        pluginId: "vertamedia-clickhouse-datasource",
      },
    ],
    title: "EdgeRAG",
    uid: "edgerag-ops",
    tags: ["edgerag", "cloudflare-workers"],
    description: `RED per route, SLO per mode (${SLO.objective * 100} % within ${Object.entries(SLO.targetsMs)
      .map(([mode, ms]) => `${mode} ${ms} ms`)
      .join(", ")}), dependencies, ingestion. Dataset ${DATASET}.`,
    timezone: "utc",
    schemaVersion: 39,
    time: { from: "now-6h", to: "now" },
    refresh: "1m",
    panels: panels.map((panel, i) => ({
      id: i + 1,
      type: "timeseries",
      title: panel.title,
      datasource: DATASOURCE,
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
      targets: [
        {
          refId: "A",
          datasource: DATASOURCE,
          query: panel.sql,
          format: "time_series",
          dateTimeType: "DATETIME",
          dateTimeColDataType: "timestamp",
          round: "0s",
          intervalFactor: 1,
        },
      ],
    })),
  };
}

/** Grafana alerting file provisioning: query A, reduce B (max over rows), threshold C. */
export function alertRules() {
  return {
    apiVersion: 1,
    groups: [
      {
        orgId: 1,
        name: "edgerag",
        folder: "EdgeRAG",
        interval: "1m",
        rules: alerts.map((alert) => ({
          uid: alert.uid,
          title: alert.title,
          condition: "C",
          for: alert.for,
          noDataState: "OK",
          execErrState: "Error",
          labels: { severity: alert.severity, service: "edgerag" },
          annotations: { summary: alert.summary, runbook_url: "https://github.com/edgerag/edgerag#operations" },
          data: [
            {
              refId: "A",
              relativeTimeRange: { from: alert.lookbackS, to: 0 },
              datasourceUid: INPUT,
              model: { refId: "A", query: alert.sql, format: "table", valueColumn: alert.valueColumn },
            },
            {
              refId: "B",
              datasourceUid: "__expr__",
              model: { refId: "B", type: "reduce", expression: "A", reducer: "max" },
            },
            {
              refId: "C",
              datasourceUid: "__expr__",
              model: {
                refId: "C",
                type: "threshold",
                expression: "B",
                conditions: [{ evaluator: { type: "gt", params: [alert.threshold] } }],
              },
            },
          ],
        })),
      },
    ],
  };
}

const outputs = {
  "ops/grafana/dashboard.json": dashboard(),
  "ops/grafana/alert-rules.json": alertRules(),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes("--check");
  let stale = false;
  for (const [path, value] of Object.entries(outputs)) {
    const text = `${JSON.stringify(value, null, 2)}\n`;
    const file = join(root, path);
    if (check) {
      let current = "";
      try {
        current = readFileSync(file, "utf8");
      } catch {}
      if (current !== text) {
        console.error(`ops:build: ${path} is out of date; run npm run ops:build`);
        stale = true;
      }
    } else {
      writeFileSync(file, text);
      console.log(`ops:build: wrote ${path}`);
    }
  }
  process.exit(stale ? 1 : 0);
}
