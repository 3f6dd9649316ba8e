// Sending a prediction in one of three ways, reporting what happens as events:
//   on("sent" | "start" | "output" | "log" | "metric" | "webhook" | "completed" | "response", data)

const JSON_HEADERS = { "content-type": "application/json" };

async function answer(response) {
  const text = await response.text();
  try { return JSON.parse(text); } catch { return text; }
}

async function sync(body, on) {
  const response = await fetch("/api/predictions", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify(body) });
  on("response", { status: response.status, body: await answer(response) });
}

// fetch, not EventSource: the request is a POST. Frames are split on blank lines.
async function stream(body, on) {
  const response = await fetch("/api/predictions", {
    method: "POST",
    headers: { ...JSON_HEADERS, accept: "text/event-stream" },
    body: JSON.stringify(body),
  });
  if (!(response.headers.get("content-type") || "").startsWith("text/event-stream")) {
    on("response", { status: response.status, body: await answer(response) });
    return;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let last;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = parseFrame(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (frame) { on(frame.name, frame.data); last = frame; }
    }
  }
  on("response", { status: response.status, body: last?.name === "completed" ? last.data : undefined, streamed: true });
}

function parseFrame(text) {
  let name = "message";
  const data = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (data.length === 0) return null;  // a keep-alive comment
  try { return { name, data: JSON.parse(data.join("\n")) }; } catch { return { name, data: data.join("\n") }; }
}

// The playground server starts it with a webhook to itself and relays each body back here.
async function viaWebhooks(body, on) {
  const response = await fetch("/relay/predictions", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify(body) });
  const started = await answer(response);
  if (!response.ok || started.status_code !== 202) {
    on("response", { status: started.status_code ?? response.status, body: started.response ?? started });
    return;
  }
  on("accepted", { ...started.response, webhook: started.request.webhook });
  await new Promise((done) => {
    const source = new EventSource(`/relay/events/${started.token}`);
    source.addEventListener("webhook", (message) => {
      const state = JSON.parse(message.data);
      on("webhook", state);
      if (["succeeded", "failed", "canceled"].includes(state.status)) {
        source.close();
        on("response", { status: 200, body: state, relayed: true });
        done();
      }
    });
    source.onerror = () => { if (source.readyState === EventSource.CLOSED) done(); };
  });
}

export const MODES = { sync, stream, async: viaWebhooks };

export function cancel(id) {
  return fetch(`/api/predictions/${encodeURIComponent(id)}/cancel`, { method: "POST" });
}
