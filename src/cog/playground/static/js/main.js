// The page: reads the model's schema, builds the form, runs predictions and shows them.

import { buildForm } from "./form.js";
import { inputsOf, outputOf, streams } from "./schema.js";
import { renderOutput, concatenates } from "./output.js";
import { MODES, cancel } from "./run.js";
import { curlCommand } from "./curl.js";
import { watchHealth } from "./health.js";

const $ = (id) => document.getElementById(id);
const SCHEMA_RETRY_MS = 1000;

const page = { doc: null, form: null, target: "", running: null };

function currentInput() {
  if ($("json-panel").hidden) return page.form.values();
  return JSON.parse($("json").value || "{}");
}

function chosenMode() {
  const mode = $("mode").value;
  return mode === "auto" ? (streams(page.doc) ? "stream" : "sync") : mode;
}

function refreshCurl() {
  let input;
  try { input = currentInput(); } catch { return; }
  $("curl").textContent = curlCommand(page.target, { input }, chosenMode());
}

function formChanged() {
  $("json").value = JSON.stringify(page.form.values(), null, 2);
  $("json-error").textContent = "";
  refreshCurl();
}

function jsonChanged() {
  try {
    const values = JSON.parse($("json").value || "{}");
    if (typeof values !== "object" || values === null || Array.isArray(values)) throw new Error("the input must be a JSON object");
    page.form.set(values);
    $("json-error").textContent = "";
    refreshCurl();
  } catch (error) {
    $("json-error").textContent = `Not valid JSON: ${error.message}`;
  }
}

function selectTab(name) {
  for (const [tab, panel] of [["tab-form", "form"], ["tab-json", "json-panel"]]) {
    const chosen = tab === `tab-${name}`;
    $(tab).setAttribute("aria-selected", String(chosen));
    $(tab).tabIndex = chosen ? 0 : -1;
    $(panel).hidden = !chosen;
  }
}

// -- one run --------------------------------------------------------------------------

function newRun(id, mode) {
  return { id, mode, started: performance.now(), state: { status: "starting", logs: "", output: undefined } };
}

function mark(run, label) {
  const ms = Math.round(performance.now() - run.started);
  $("timeline").append(Object.assign(document.createElement("li"), { textContent: `+${ms} ms  ${label}` }));
}

function show(run) {
  const { state } = run;
  $("status").textContent = state.status;
  $("status").dataset.status = state.status;
  $("logs").textContent = state.logs || "";
  $("error").textContent = state.error ? `Error: ${state.error}` : "";
  renderOutput($("output"), state.output, outputOf(page.doc));
  const metrics = state.metrics || {};
  $("metrics").replaceChildren(...Object.entries(metrics).map(([name, value]) => {
    const row = document.createElement("tr");
    row.append(Object.assign(document.createElement("td"), { textContent: name }),
      Object.assign(document.createElement("td"), { textContent: typeof value === "number" ? String(+value.toFixed(4)) : JSON.stringify(value) }));
    return row;
  }));
}

function handle(run, name, data) {
  const { state } = run;
  switch (name) {
    case "start": state.status = "processing"; mark(run, "started"); break;
    case "output": {
      const chunks = Array.isArray(state.output) ? state.output : [];
      state.output = [...chunks, data.chunk];
      mark(run, `output ${chunks.length + 1}`);
      break;
    }
    case "log": state.logs += data.data; mark(run, "log"); break;
    case "metric": state.metrics = { ...state.metrics, [data.name]: data.value }; mark(run, `metric ${data.name}`); break;
    case "accepted": state.status = data.status || "starting"; mark(run, `accepted (202); webhooks to ${data.webhook}`); break;
    case "webhook": Object.assign(state, data); mark(run, `webhook: ${data.status}`); break;
    case "completed": Object.assign(state, data); mark(run, `completed: ${data.status}`); break;
    case "error": state.status = "failed"; state.error = data.error || JSON.stringify(data); mark(run, "stream error"); break;
    case "response": finish(run, data); return;
    default: mark(run, name);
  }
  show(run);
}

function finish(run, { status, body }) {
  $("raw").textContent = typeof body === "string" ? body : JSON.stringify(body, null, 2);
  if (status === 422 && Array.isArray(body?.detail)) {
    const unplaced = page.form.showServerErrors(body.detail);
    run.state = { ...run.state, status: "invalid input", error: unplaced.join("; ") || "the model rejected the input" };
  } else if (body && typeof body === "object" && body.status) {
    Object.assign(run.state, body);
  } else if (status >= 400 || !body) {
    run.state.status = "failed";
    run.state.error = body?.error || body?.detail || (typeof body === "string" && body) || `HTTP ${status}`;
  }
  mark(run, `answer: HTTP ${status}`);
  show(run);
}

async function runNow() {
  if (page.running) return;
  let input;
  try { input = currentInput(); } catch (error) { $("json-error").textContent = `Not valid JSON: ${error.message}`; return; }
  if ($("json-panel").hidden && !page.form.validate()) {
    $("status").textContent = "fix the input first";
    return;
  }
  const mode = chosenMode();
  const run = newRun(`pg-${crypto.randomUUID().slice(0, 12)}`, mode);
  page.running = run;
  $("timeline").replaceChildren();
  $("raw").textContent = "";
  $("curl").textContent = curlCommand(page.target, { input }, mode);
  $("run").disabled = true;
  $("cancel").hidden = false;
  mark(run, `sent (${mode})`);
  show(run);
  try {
    await MODES[mode]({ id: run.id, input }, (name, data) => handle(run, name, data));
  } catch (error) {
    run.state.status = "failed";
    run.state.error = `the request did not complete (${error.message})`;
    show(run);
  } finally {
    page.running = null;
    $("run").disabled = false;
    $("cancel").hidden = true;
  }
}

async function cancelNow() {
  const run = page.running;
  if (!run) return;
  mark(run, "cancel asked");
  await cancel(run.id);
}

// The schema is served once setup is over (503 before): wait for it, saying so.
async function loadSchema() {
  for (;;) {
    try {
      const response = await fetch("/api/openapi.json", { cache: "no-store" });
      if (response.ok) return await response.json();
      $("form").textContent = `Waiting for the model's schema (HTTP ${response.status})…`;
    } catch (error) {
      $("form").textContent = `Waiting for the model's schema (${error.message})…`;
    }
    await new Promise((done) => setTimeout(done, SCHEMA_RETRY_MS));
  }
}

async function boot() {
  const info = await fetch("/info").then((r) => r.json());
  page.target = info.target;
  document.title = `Playground · ${info.target}`;
  $("title").textContent = info.target.replace(/^https?:\/\//, "");
  watchHealth($("health"), $("versions"), $("setup-logs"), () => page.doc?.info);
  const doc = await loadSchema();
  page.doc = doc;
  page.form = buildForm($("form"), inputsOf(doc), formChanged);
  formChanged();
  $("json").addEventListener("input", jsonChanged);
  $("mode").addEventListener("change", refreshCurl);
  $("tab-form").addEventListener("click", () => selectTab("form"));
  $("tab-json").addEventListener("click", () => selectTab("json"));
  document.querySelector("[role=tablist]").addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      const next = $("json-panel").hidden ? "json" : "form";
      selectTab(next);
      $(`tab-${next}`).focus();
    }
  });
  $("run").addEventListener("click", runNow);
  $("cancel").addEventListener("click", cancelNow);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); runNow(); }
  });
  document.body.dataset.ready = "true";
}

boot().catch((error) => {
  $("error").textContent = `Could not load the model's schema: ${error.message}`;
});
