// The console script (served as /console/console.js): a plain string, so the bundle needs no loader. Edit it as the file it is.
export default String.raw`// EdgeRAG console: a window on the API. The key stays in sessionStorage; every user-supplied string
// is written with textContent (never as HTML); charts are SVG drawn here; no external scripts.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const state = { key: sessionStorage.getItem("edgerag.key") || "", socket: null, lastSeq: 0, retry: 500 };

  const say = (text) => { $("status").textContent = text; };

  async function api(path, init = {}) {
    const res = await fetch(path, {
      ...init,
      headers: { Authorization: "Bearer " + state.key, ...(init.body ? { "Content-Type": "application/json" } : {}), ...init.headers },
    });
    if (!res.ok) {
      const problem = await res.json().catch(() => ({}));
      throw new Error((problem.title || res.status) + ": " + (problem.detail || ""));
    }
    return res.status === 204 ? null : res.json();
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function chart(container, values, kind, label) {
    const width = 600, height = 140, pad = 20;
    const max = Math.max(1, ...values.map((v) => v || 0));
    const root = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": label });
    const step = (width - pad) / Math.max(1, values.length);
    if (kind === "bars") {
      values.forEach((v, i) => {
        const h = ((v || 0) / max) * (height - 2 * pad);
        root.append(svg("rect", { class: "bar", x: pad + i * step, y: height - pad - h, width: Math.max(1, step - 1), height: h }));
      });
    } else {
      const points = values
        .map((v, i) => (v === null ? null : [pad + i * step + step / 2, height - pad - (v / max) * (height - 2 * pad)]))
        .filter(Boolean);
      root.append(svg("polyline", { class: "line", points: points.map((p) => p.join(",")).join(" ") }));
      for (const [x, y] of points) root.append(svg("circle", { class: "dot", cx: x, cy: y, r: 3 }));
    }
    root.append(svg("line", { class: "axis", x1: pad, y1: height - pad, x2: width, y2: height - pad }));
    root.append(svg("text", { x: pad, y: height - 4 }, label));
    root.append(svg("text", { x: 2, y: 12 }, "max " + Math.round(max * 10) / 10));
    container.replaceChildren(root);
  }

  function figure(value, name) {
    const box = el("div", undefined, "figure");
    box.append(el("strong", value), el("span", name));
    return box;
  }

  async function loadDashboard() {
    const days = Number($("period").value);
    const to = new Date();
    const from = new Date(to.getTime() - days * 86400000);
    const bucket = days > 7 ? "day" : "hour";
    const d = await api("/v1/dashboard?from=" + from.toISOString() + "&to=" + to.toISOString() + "&bucket=" + bucket);
    const t = d.totals;
    const p95 = d.latency_ms.balanced.p95;
    $("totals").replaceChildren(
      figure(t.queries, "queries"),
      figure(t.cache_hit_rate === null ? "–" : Math.round(t.cache_hit_rate * 100) + " %", "cache hits"),
      figure(p95 === null ? "–" : p95 + " ms", "p95 latency (balanced)"),
      figure(Object.values(t.errors_by_code).reduce((a, b) => a + b, 0), "errors"),
      figure(t.rate_limited, "rate limited"),
      figure(t.documents_by_status.ready || 0, "documents ready"),
      figure(t.chunks, "chunks"),
      figure(t.notifications, "notifications"),
    );
    chart($("chart-queries"), d.series.map((s) => s.queries), "bars", "queries per " + bucket);
    chart($("chart-latency"), d.series.map((s) => s.p95_ms), "line", "p95 latency per " + bucket);
  }

  async function loadDocuments() {
    const collections = (await api("/v1/collections?limit=100")).items;
    const select = $("collection");
    select.replaceChildren(...collections.map((c) => { const o = el("option", c.name); o.value = c.id; return o; }));
    const rows = [];
    for (const c of collections.slice(0, 5)) {
      for (const doc of (await api("/v1/collections/" + c.id + "/documents?limit=20")).items) {
        const tr = el("tr");
        tr.append(el("td", doc.title), el("td", c.name), el("td", doc.status), el("td", doc.chunk_count));
        rows.push(tr);
      }
    }
    $("documents").tBodies[0].replaceChildren(...rows);
  }

  async function ask(event) {
    event.preventDefault();
    const answer = $("answer");
    const citations = $("citations");
    answer.textContent = "";
    citations.replaceChildren();
    const res = await fetch("/v1/query", {
      method: "POST",
      headers: { Authorization: "Bearer " + state.key, "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ query: $("question").value, collection_ids: [$("collection").value], mode: $("mode").value }),
    });
    if (!res.ok || !res.body) {
      answer.textContent = "Refused: " + res.status;
      return;
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = (block.match(/^event: (.*)$/m) || [])[1];
        const data = JSON.parse((block.match(/^data: (.*)$/m) || [, "null"])[1]);
        if (type === "token") answer.textContent += data.text;
        if (type === "citation") citations.append(el("li", "[" + data.n + "] " + data.title + ": " + data.quote));
        if (type === "done") answer.dataset.done = "true";
        if (type === "error") answer.textContent = "Error: " + data.detail;
      }
    }
  }

  async function connect() {
    if (state.socket) state.socket.close();
    try {
      const { ticket } = await api("/v1/notifications/ticket", { method: "POST" });
      const url = location.origin.replace(/^http/, "ws") + "/v1/notifications/ws?ticket=" + ticket + "&after=" + state.lastSeq;
      const ws = new WebSocket(url);
      state.socket = ws;
      const ping = setInterval(() => ws.readyState === 1 && ws.send('{"type":"ping"}'), 25000);
      ws.onopen = () => { state.retry = 500; $("live").textContent = "live"; $("live").className = "badge on"; };
      ws.onmessage = (m) => {
        const frames = [].concat(JSON.parse(m.data));
        for (const f of frames) {
          if (typeof f.seq !== "number" || f.seq <= state.lastSeq) continue;
          state.lastSeq = f.seq;
          $("notifications").prepend(el("li", "#" + f.seq + " " + f.type + " " + JSON.stringify(f.data)));
        }
      };
      ws.onclose = (e) => {
        clearInterval(ping);
        $("live").textContent = "offline";
        $("live").className = "badge";
        if (e.code === 4401 || e.code === 4403 || ws !== state.socket) return;
        setTimeout(connect, state.retry + Math.random() * state.retry);
        state.retry = Math.min(state.retry * 2, 30000);
      };
    } catch (error) {
      $("live").textContent = "unavailable";
    }
  }

  async function load() {
    say("Loading…");
    try {
      await Promise.all([loadDashboard(), loadDocuments()]);
      connect();
      say("Loaded " + new Date().toLocaleTimeString());
      document.body.dataset.loaded = "true";
    } catch (error) {
      say(String(error.message || error));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("key").value = state.key;
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      state.key = $("key").value.trim();
      sessionStorage.setItem("edgerag.key", state.key);
      load();
    });
    $("forget").addEventListener("click", () => { sessionStorage.removeItem("edgerag.key"); state.key = ""; $("key").value = ""; });
    $("period").addEventListener("change", () => state.key && loadDashboard().catch((e) => say(e.message)));
    $("ask-form").addEventListener("submit", (e) => ask(e).catch((err) => { $("answer").textContent = String(err); }));
    if (state.key) load();
  });
})();
`;
