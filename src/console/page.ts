// The console page: a plain string, so the bundle needs no loader. Edit it as the file it is.
export default `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EdgeRAG console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/console.css">
<script src="/console/console.js" defer></script>
</head>
<body>
<header>
  <h1>EdgeRAG</h1>
  <form id="key-form" autocomplete="off">
    <label>API key <input id="key" type="password" placeholder="erk_…" required></label>
    <label>Period
      <select id="period">
        <option value="1">last 24 hours</option>
        <option value="7" selected>last 7 days</option>
        <option value="30">last 30 days</option>
        <option value="90">last 90 days</option>
      </select>
    </label>
    <button type="submit">Load</button>
    <button type="button" id="forget">Forget key</button>
  </form>
  <p id="status" role="status"></p>
</header>
<main>
  <section id="totals" aria-label="Totals"></section>
  <section>
    <h2>Queries</h2>
    <div id="chart-queries" class="chart"></div>
    <h2>Latency p95 (ms)</h2>
    <div id="chart-latency" class="chart"></div>
  </section>
  <section>
    <h2>Documents</h2>
    <table id="documents"><thead><tr><th>Title</th><th>Collection</th><th>Status</th><th>Chunks</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Ask</h2>
    <form id="ask-form">
      <select id="collection" aria-label="Collection"></select>
      <select id="mode" aria-label="Mode"><option>fast</option><option selected>balanced</option><option>deep</option></select>
      <input id="question" placeholder="How many vacation days do employees get?" required>
      <button type="submit">Ask</button>
    </form>
    <p id="answer" aria-live="polite"></p>
    <ol id="citations"></ol>
  </section>
  <section>
    <h2>Notifications <span id="live" class="badge">offline</span></h2>
    <ul id="notifications"></ul>
  </section>
</main>
</body>
</html>
`;
