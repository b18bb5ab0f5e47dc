// The console style (served as /console/console.css): a plain string, so the bundle needs no loader. Edit it as the file it is.
export default `:root { font-family: system-ui, sans-serif; color: #1d2433; background: #f6f7f9; }
body { margin: 0; }
header { background: #1d2433; color: #fff; padding: 12px 24px; }
header h1 { margin: 0 0 8px; font-size: 20px; }
header form { display: flex; gap: 12px; align-items: end; flex-wrap: wrap; }
header label { display: flex; flex-direction: column; font-size: 12px; gap: 4px; }
input, select, button { font: inherit; padding: 6px 8px; border-radius: 4px; border: 1px solid #c5cad3; }
button { background: #f38020; color: #fff; border: none; cursor: pointer; }
#status { margin: 8px 0 0; font-size: 13px; min-height: 1em; }
main { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; padding: 16px 24px; }
section { background: #fff; border-radius: 6px; padding: 12px 16px; box-shadow: 0 1px 2px rgb(0 0 0 / 8%); }
#totals { grid-column: 1 / -1; display: flex; gap: 24px; flex-wrap: wrap; }
.figure strong { display: block; font-size: 22px; }
.figure span { font-size: 12px; color: #5b6475; }
h2 { font-size: 15px; margin: 4px 0 8px; }
.chart svg { width: 100%; height: 140px; }
.chart .bar { fill: #f38020; }
.chart .line { fill: none; stroke: #2c7be5; stroke-width: 2; }
.chart .dot { fill: #2c7be5; }
.chart .axis { stroke: #c5cad3; }
.chart text { font-size: 10px; fill: #5b6475; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
td, th { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eceef2; }
#ask-form { display: flex; gap: 8px; }
#question { flex: 1; }
#answer { white-space: pre-wrap; min-height: 2em; }
#citations { font-size: 13px; color: #5b6475; }
#notifications { list-style: none; padding: 0; font-size: 13px; max-height: 240px; overflow: auto; }
#notifications li { border-bottom: 1px solid #eceef2; padding: 4px 0; }
.badge { font-size: 11px; background: #c5cad3; color: #1d2433; border-radius: 8px; padding: 1px 8px; }
.badge.on { background: #2fb344; color: #fff; }
`;
