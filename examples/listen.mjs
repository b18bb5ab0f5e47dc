// Prints a tenant's events live from the notification WebSocket (the `ws` client), resuming after
// the last one it saw when the connection drops. Run with the project's own Node:
//   BASE=http://localhost:8787 KEY=erk_… npm exec -- node examples/listen.mjs
import WebSocket from "ws";

const base = (process.env.BASE ?? "http://localhost:8787").replace(/^http/, "ws");
const key = process.env.KEY;
if (!key) {
  console.error("set KEY to an admin API key (and BASE if not http://localhost:8787)");
  process.exit(1);
}
let after = 0;
function connect() {
  const ws = new WebSocket(`${base}/v1/notifications/ws?after=${after}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  ws.on("open", () => console.log(`listening (after ${after}); Ctrl-C to stop`));
  ws.on("message", (data) => {
    const event = JSON.parse(String(data));
    if (typeof event.seq === "number") {
      after = event.seq;
      console.log(`${event.seq} ${event.type} ${JSON.stringify(event.data)}`);
    }
  });
  ws.on("close", (code, reason) => {
    console.log(`closed ${code} ${reason}`);
    if (code !== 4401 && code !== 4403) {
      setTimeout(connect, 1_000);
    }
  });
  ws.on("error", (error) => console.error(error.message));
}
connect();
