import { describe, expect, it } from "vitest";
import { ERROR_CODES, errorDoc } from "../../src/errors";
import { call, expectProblem } from "../support/http";

describe("the pages a person reads, served by the Worker", () => {
  it("has a front door linking the console, the API reference, the errors and health", async () => {
    const res = await call("GET", "/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    const page = await res.text();
    for (const href of ["/console", "/docs", "/docs/errors", "/health", "/openapi.json"]) {
      expect(page).toContain(`href="${href}"`);
    }
  });

  it("serves Swagger UI and its files itself, and nothing else of the package", async () => {
    const page = await (await call("GET", "/docs")).text();
    const sources = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(sources).toEqual([
      "/docs/vendor/swagger-ui.css",
      "/docs/vendor/swagger-ui-bundle.js",
      "/docs/swagger-init.js",
    ]);
    for (const path of sources) {
      const res = await call("GET", path ?? "");
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect((await res.text()).length).toBeGreaterThan(50);
    }
    expect(await (await call("GET", "/docs/vendor/swagger-ui-bundle.js")).text()).toContain("SwaggerUIBundle");
    await expectProblem(await call("GET", "/docs/vendor/package.json"), 404, "not_found");
    await expectProblem(await call("GET", "/index.html"), 404, "not_found");
  });

  it("documents every error code on its own page, and every problem's type points at it", async () => {
    const index = await (await call("GET", "/docs/errors")).text();
    for (const code of ERROR_CODES) {
      expect(index).toContain(`href="/docs/errors/${code}"`);
      const res = await call("GET", `/docs/errors/${code}`);
      expect({ code, status: res.status }).toEqual({ code, status: 200 });
      const page = await res.text();
      expect(page).toContain(`${errorDoc(code).status} ${errorDoc(code).title}`);
      expect(page).toContain("What to do");
    }
    const problem = (await expectProblem(await call("GET", "/v1/collections"), 401, "unauthorized")) as unknown as {
      type: string;
    };
    expect(problem.type).toBe("http://edgerag.test/docs/errors/unauthorized");
    const linked = await call("GET", new URL(problem.type).pathname);
    expect(linked.status).toBe(200);
    await expectProblem(await call("GET", "/docs/errors/no_such_code"), 404, "not_found");
  });
});
