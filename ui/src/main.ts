// The Drone web UI: hash-routed views over the REST API (docs/ui.md). Flows, Launchpad, Run (live
// over Server-Sent Events), History and Compare. The page never loads per-message data: series
// come downsampled from the server.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import uPlot from "uplot";
import { api, ApiError, Json, streamUrl } from "./api";
import { fmt, h, ms, verdictBadge } from "./dom";
import { failureRows } from "./failures";
import { applyFaultEvent, FaultInfo, faultLabel, faultsOfResult, FaultWindow, windowsOn } from "./faults";
import { dagSvg, ganttSvg, GanttBar, timeChart, topologySvg } from "./widgets";

const app = document.getElementById("app") as HTMLElement;
const SERIES_POINTS = 600;

// For tests and for the curious: the charts on the page, by title.
const charts: Record<string, uPlot> = {};
(window as Json).__drone = { charts };

let cleanup: (() => void)[] = [];
function onLeave(f: () => void) {
  cleanup.push(f);
}

function errorBox(e: unknown): HTMLElement {
  const msg = e instanceof Error ? e.message : String(e);
  return h("div", { class: "error" }, msg);
}

function chartWidth(): number {
  return Math.max(320, Math.min(1100, app.clientWidth - 20));
}

// ---- Flows ----

async function flowsView(selected?: string) {
  const data = await api.flows();
  const list = h("ul", { class: "flow-list" });
  const detail = h("section", { class: "flow-detail" });
  const flows: Json[] = data.flows;
  for (const f of flows) {
    list.append(h("li", { class: f.name === selected ? "selected" : "" },
      h("a", { href: `#/flows/${f.name}` }, f.title || f.name),
      f.errors.length ? h("span", { class: "badge v-fail" }, `${f.errors.length} problems`) : ""));
  }
  const flow = flows.find((f) => f.name === selected) ?? flows[0];
  if (flow) {
    const params = h("table", { class: "kv" });
    for (const [k, v] of Object.entries(flow.params)) params.append(h("tr", {}, h("th", {}, k), h("td", {}, String(v))));
    detail.append(
      h("h2", {}, flow.title || flow.name, " ", h("a", { class: "button", href: `#/launch/${flow.name}`, "data-action": "launch" }, "Launch…")),
      h("p", { class: "muted" }, flow.file),
      h("p", {}, flow.description || ""),
      flow.errors.length ? h("div", { class: "error" }, ...flow.errors.map((e: Json) => h("div", {}, e.text))) : "",
      h("h3", {}, "Steps"),
      h("div", { class: "dag-wrap" }, dagSvg(flow.steps)),
      h("h3", {}, "Parameters"),
      Object.keys(flow.params).length ? params : h("p", { class: "muted" }, "none"));
  } else {
    detail.append(h("p", {}, `No flows in ${data.flows_dir}.`));
  }
  app.replaceChildren(h("div", { class: "split" }, h("aside", {}, h("h2", {}, "Flows"), list), detail));
}

// ---- Launchpad ----

async function launchView(name: string) {
  const flow = await api.flow(name);
  const values: Record<string, string> = { ...flow.params };
  const form = h("form", { class: "launch" });
  const general = h("div", { class: "errors" });
  const fieldErrors: Record<string, HTMLElement> = {};
  const startButton = h("button", { type: "submit", "data-action": "start" }, "Start run") as HTMLButtonElement;
  let timer = 0;
  let generation = 0;

  const showErrors = (errors: Json[]) => {
    for (const el of Object.values(fieldErrors)) el.replaceChildren();
    general.replaceChildren();
    for (const e of errors) {
      const said = `${e.message} ${e.hint ?? ""}`;
      const param = Object.keys(fieldErrors).find((p) =>
        e.field === `params.${p}` || said.includes(`params.${p} `) || said.includes(`'${p}'`));
      const line = e.line ? `line ${e.line}: ` : "";
      const text = `${line}${e.field ? e.field + ": " : ""}${e.message}${e.hint ? " — " + e.hint : ""}`;
      (param ? fieldErrors[param] : general).append(h("div", { class: "error-line" }, text));
    }
    startButton.disabled = errors.length > 0;
  };
  const validate = async () => {
    const mine = ++generation;
    try {
      const v = await api.validate(name, values);
      if (mine === generation) showErrors(v.errors);
    } catch (e) {
      general.replaceChildren(errorBox(e));
    }
  };
  for (const [k, v] of Object.entries(flow.params)) {
    const input = h("input", { name: k, value: String(v), "data-param": k }) as HTMLInputElement;
    input.addEventListener("input", () => {
      values[k] = input.value;
      window.clearTimeout(timer);
      timer = window.setTimeout(validate, 250);
    });
    fieldErrors[k] = h("div", { class: "field-errors" });
    form.append(h("label", {}, h("span", {}, k), input, fieldErrors[k]));
  }
  form.append(general, startButton);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    startButton.disabled = true;
    try {
      const started = await api.start(name, values);
      location.hash = `#/run/${started.run_id}`;
    } catch (e) {
      if (e instanceof ApiError && e.body && e.body.errors) showErrors(e.body.errors);
      else general.replaceChildren(errorBox(e));
      startButton.disabled = false;
    }
  });
  app.replaceChildren(h("h2", {}, `Launch ${flow.title || name}`), h("p", {}, flow.description || ""),
                      h("div", { class: "split" }, form, h("div", { class: "dag-wrap" }, dagSvg(flow.steps))));
  validate();
}

// ---- Run ----

interface LiveState {
  steps: Map<string, GanttBar>;
  faults: FaultInfo[];
  events: Json[];
  series: Record<string, Json[]>; // workload -> live points
  loadStart: Record<string, number>; // workload -> when its load started (ms since the epoch)
}

const STEP_EVENT_STATUS: Record<string, string> = {
  STEP_START: "running", STEP_SUCCESS: "succeeded", STEP_FAILURE: "failed",
  STEP_SKIPPED: "skipped", STEP_CANCELLED: "cancelled",
};

function applyEvent(state: LiveState, e: Json) {
  state.events.push(e);
  const t = e.t_ns ? e.t_ns / 1e6 : ms(e.t);
  const status = STEP_EVENT_STATUS[e.type];
  if (status && e.step) {
    const bar = state.steps.get(e.step) ?? { id: e.step, kind: "", status, start: t, end: null };
    bar.status = status;
    if (status !== "running") bar.end = t;
    const kind = /^\(?([a-z.]+)/.exec(e.message ?? "");
    if (e.type === "STEP_START" && kind) bar.kind = kind[1];
    state.steps.set(e.step, bar);
  }
  applyFaultEvent(state.faults, e, t);
}

// A live point carries its wall-clock time (`t_ns`): with its `t` (seconds since the load
// started) it places the load's start, so that fault windows (wall-clock) land on the chart's axis.
function applyPoint(state: LiveState, workload: string, point: Json) {
  (state.series[workload] ??= []).push(point);
  if (typeof point.t_ns === "number" && typeof point.t === "number") {
    state.loadStart[workload] = point.t_ns / 1e6 - point.t * 1000;
  }
}

function seriesCharts(container: HTMLElement, series: Json, key: string) {
  container.replaceChildren();
  for (const [id, w] of Object.entries(series.workloads as Record<string, Json>)) {
    const windows: FaultWindow[] = (w.fault_windows ?? []).map((f: Json) => ({ ...f, label: f.label ?? faultLabel(f) }));
    const width = chartWidth();
    const tp = timeChart(`${id}: throughput`, w.t, [
      { label: "sent/s", values: w.sent, color: "#4c78a8" },
      { label: "acked/s", values: w.acked, color: "#54a24b" },
      { label: "received/s", values: w.received, color: "#f58518" },
    ], windows, "messages/s", width);
    const lat = timeChart(`${id}: latency`, w.t, [
      { label: "publish p50", values: w.publish_p50_ms, color: "#72b7b2" },
      { label: "publish p99", values: w.publish_p99_ms, color: "#4c78a8" },
      { label: "end-to-end p50", values: w.end_to_end_p50_ms, color: "#eeca3b" },
      { label: "end-to-end p99", values: w.end_to_end_p99_ms, color: "#e45756" },
    ], windows, "ms", width);
    charts[`${key}:${id}:throughput`] = tp.plot;
    charts[`${key}:${id}:latency`] = lat.plot;
    tp.el.dataset.points = String(w.t.length);
    lat.el.dataset.points = String(w.t.length);
    container.append(tp.el, lat.el);
  }
}

function livePointsToColumns(points: Json[], windows: FaultWindow[]): Json {
  const cols: Json = { t: [], sent: [], acked: [], received: [], publish_p50_ms: [], publish_p99_ms: [],
                       end_to_end_p50_ms: [], end_to_end_p99_ms: [] };
  for (const p of points) for (const k of Object.keys(cols)) cols[k].push(p[k] ?? null);
  cols.fault_windows = windows;
  return cols;
}

function deliveryTable(result: Json): HTMLElement {
  const t = h("table", { class: "grid", "data-table": "delivery" });
  const cats = ["ok", "recovered", "unknown", "failed", "phantom", "lost", "unseen", "duplicated", "unacked_received", "reordered", "corrupt", "unexpected"];
  t.append(h("tr", {}, h("th", {}, "workload"), h("th", {}, "verdict"), h("th", {}, "sent"), h("th", {}, "acked"), h("th", {}, "received"),
             ...cats.map((c) => h("th", {}, c))));
  for (const [id, w] of Object.entries((result.workloads ?? {}) as Record<string, Json>)) {
    const d = w.delivery ?? {};
    t.append(h("tr", {}, h("td", {}, id), h("td", {}, w.verdict ? verdictBadge(w.verdict) : "–"), h("td", {}, fmt(w.sent)),
               h("td", {}, fmt(w.acked)), h("td", {}, fmt(w.received)),
               ...cats.map((c) => h("td", { class: d[c] && !["ok", "recovered"].includes(c) ? "bad" : "" }, fmt(d[c] ?? 0)))));
  }
  return t;
}

// Why sends were nacked or indeterminate; nothing when every send was acked.
function failureTable(result: Json): HTMLElement | string {
  const rows = failureRows(result);
  if (!rows.length) return "";
  const t = h("table", { class: "grid", "data-table": "errors" });
  t.append(h("tr", {}, h("th", {}, "workload"), h("th", {}, "outcome"), h("th", {}, "error"), h("th", {}, "messages")));
  for (const r of rows) {
    t.append(h("tr", {}, h("td", {}, r.workload), h("td", {}, r.outcome), h("td", {}, r.error), h("td", {}, fmt(r.count))));
  }
  return h("div", {}, h("h4", {}, "Why sends failed"), t);
}

function eventLog(events: Json[], t0: number): HTMLElement {
  const filter = h("input", { placeholder: "filter events (type, step, text)", "data-filter": "events" }) as HTMLInputElement;
  const body = h("tbody");
  const render = () => {
    const q = filter.value.toLowerCase();
    body.replaceChildren(...events
      .filter((e) => !q || `${e.type} ${e.step ?? ""} ${e.message ?? ""}`.toLowerCase().includes(q))
      .map((e) => h("tr", { class: `ev-${e.type}` },
        h("td", {}, `${(((e.t_ns ? e.t_ns / 1e6 : ms(e.t)) - t0) / 1000).toFixed(1)}s`),
        h("td", {}, e.type), h("td", {}, e.step ?? ""), h("td", {}, e.message ?? ""))));
  };
  filter.addEventListener("input", render);
  render();
  return h("div", {}, filter, h("table", { class: "grid events" }, body));
}

function topologyOf(result: Json | null, state: LiveState, faults: FaultInfo[], at: number, t0: number): SVGElement {
  const clusters: { id: string; nodes: string[] }[] = [];
  for (const st of result?.steps ?? []) {
    if (st.kind === "cluster") clusters.push({ id: st.id, nodes: st.outputs?.nodes ?? [] });
  }
  if (!clusters.length) {
    for (const e of state.events) {
      if (e.type === "STEP_OUTPUT" && e.message) {
        let nodes: unknown = undefined;
        try {
          nodes = JSON.parse(e.message).nodes;
        } catch {
          // The event's outputs are cut at 1 KiB; the node list comes early enough to survive.
          const m = /"nodes":(\[[^\]]*\])/.exec(e.message);
          try { nodes = m ? JSON.parse(m[1]) : undefined; } catch { /* cut inside the list */ }
        }
        if (Array.isArray(nodes)) clusters.push({ id: e.step, nodes: nodes.map(String) });
      }
    }
  }
  const workloads = Object.keys(result?.workloads ?? state.series);
  return topologySvg(clusters, workloads, faults, at, t0);
}

// The topology of a finished run at a chosen moment: a slider over the run's duration (it starts
// at the end; each fault's window is listed below the drawing).
function topologyReplay(result: Json, state: LiveState, faults: FaultInfo[], t0: number, t1: number): HTMLElement {
  // Whole steps of 100 ms up to the end or just past it: the last one shows the end itself.
  const span = Math.ceil(Math.max(0, t1 - t0) / 100) * 100;
  const slider = h("input", { type: "range", min: "0", max: String(span), step: "100",
                              value: String(span), "data-control": "topology-time" }) as HTMLInputElement;
  const label = h("span", { "data-label": "topology-time" });
  const jumps = h("span", {}, ...faults.map((f) => {
    const b = h("button", { type: "button", "data-jump": f.step }, `${f.step}`) as HTMLButtonElement;
    b.addEventListener("click", () => {
      const end = f.end ?? t1;
      slider.value = String(Math.round((f.start + end) / 2 - t0));
      draw();
    });
    return b;
  }));
  const drawing = h("div", {});
  const draw = () => {
    const at = Math.min(t1, t0 + Number(slider.value));
    label.textContent = `at ${((at - t0) / 1000).toFixed(1)} s`;
    drawing.replaceChildren(topologyOf(result, state, faults, at, t0));
  };
  slider.addEventListener("input", draw);
  draw();
  return h("div", {}, h("div", { class: "topo-time" }, h("span", {}, "show the topology"), slider, label,
                        faults.length ? h("span", { class: "muted" }, "during:") : "", jumps), drawing);
}

async function runView(id: string) {
  const header = h("div", { class: "run-header" });
  const gantt = h("div", { class: "panel" });
  const chartBox = h("div", { class: "panel charts" });
  const delivery = h("div", { class: "panel" });
  const topo = h("div", { class: "panel" });
  const log = h("div", { class: "panel" });
  const logs = h("div", { class: "panel" });
  app.replaceChildren(header, h("h3", {}, "Steps"), gantt, h("h3", {}, "Throughput and latency"), chartBox,
                      h("h3", {}, "Delivery"), delivery, h("h3", {}, "Topology"), topo,
                      h("h3", {}, "Events"), log, h("h3", {}, "Step logs"), logs);
  const state: LiveState = { steps: new Map(), faults: [], events: [], series: {}, loadStart: {} };

  const renderFinished = async () => {
    const [result, series] = await Promise.all([api.run(id), api.series(id, SERIES_POINTS)]);
    const t0 = ms(result.started_at);
    header.replaceChildren(h("h2", {}, `${result.flow} `, verdictBadge(result.verdict)),
      h("p", { class: "muted" }, `run ${id} · started ${result.started_at} · ${((ms(result.finished_at) - t0) / 1000).toFixed(1)} s · exit ${result.exit_code}`),
      ...(result.reasons ?? []).map((r: string) => h("div", { class: "reason" }, r)),
      h("a", { class: "button", href: `#/compare/${id}` }, "Compare…"),
      result.matrix?.id ? h("a", { class: "button", href: `#/compare/matrix/${encodeURIComponent(result.matrix.id)}` },
                            `Compare matrix ${result.matrix.id}…`) : "");
    const bars: GanttBar[] = (result.steps ?? []).filter((s: Json) => s.started_at).map((s: Json) => ({
      id: s.id, kind: s.kind, status: s.status, start: ms(s.started_at), end: ms(s.finished_at) || null }));
    const faults = faultsOfResult(result);
    const t1 = ms(result.finished_at);
    gantt.replaceChildren(ganttSvg(bars, t0, t1, faults.map((f) => ({ ...f, label: faultLabel(f) }))));
    seriesCharts(chartBox, series, id);
    delivery.replaceChildren(deliveryTable(result), failureTable(result));
    topo.replaceChildren(topologyReplay(result, state, faults, t0, t1));
    log.replaceChildren(eventLog(result.events ?? [], t0));
    // `drone`: the output of the `drone run` process, kept for runs this server started.
    const select = h("select", { "data-select": "logs" }, h("option", { value: "" }, "choose a step"),
      ...(result.steps ?? []).map((s: Json) => h("option", { value: s.id }, s.id)),
      h("option", { value: "drone" }, "drone (the run's output)")) as HTMLSelectElement;
    const pre = h("pre", { class: "log" });
    select.addEventListener("change", async () => {
      pre.textContent = select.value ? await api.logs(id, select.value) : "";
    });
    logs.replaceChildren(select, pre);
  };

  let first: Json;
  try {
    first = await api.run(id);
  } catch (e) {
    app.replaceChildren(errorBox(e));
    return;
  }
  if (first.verdict !== "running" && first.verdict !== "starting") {
    if (first.verdict === "not-stored") {
      app.replaceChildren(h("h2", {}, `Run ${id} did not run`), h("pre", { class: "log" }, first.log ?? ""));
      return;
    }
    await renderFinished();
    return;
  }
  // Live: events and points arrive over SSE until the stored run ends the stream.
  const t0 = Date.now();
  const status = h("span", { class: "badge v-running", "data-verdict": "running" }, "running");
  const title = h("span", {}, `${first.flow ?? "run"} `);
  header.replaceChildren(h("h2", {}, title, status), h("p", { class: "muted" }, `run ${id} (live)`));
  let pending = false;
  const redraw = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      const now = Date.now();
      const start = state.events.length ? Math.min(...state.events.map((e) => (e.t_ns ? e.t_ns / 1e6 : now))) : t0;
      gantt.replaceChildren(ganttSvg([...state.steps.values()], start, now,
                                     state.faults.map((f) => ({ ...f, label: faultLabel(f) }))));
      const workloads: Json = {};
      for (const [w, pts] of Object.entries(state.series)) {
        const loadStart = state.loadStart[w];
        const windows = loadStart === undefined ? [] : windowsOn(state.faults, loadStart);
        workloads[w] = livePointsToColumns(pts.slice(-SERIES_POINTS), windows);
      }
      seriesCharts(chartBox, { workloads }, id);
      // Live, the server's clock is what counts: "now" is the latest event or point seen.
      topo.replaceChildren(topologyOf(null, state, state.faults, Number.POSITIVE_INFINITY, start));
      log.replaceChildren(eventLog(state.events, start));
    });
  };
  const source = new EventSource(streamUrl(id));
  onLeave(() => source.close());
  source.addEventListener("event", (m) => {
    const e = JSON.parse((m as MessageEvent).data);
    if (e.type === "RUN_START" && e.message) title.textContent = `${e.message.split(" ")[0]} `;
    applyEvent(state, e);
    redraw();
  });
  source.addEventListener("point", (m) => {
    const row = JSON.parse((m as MessageEvent).data);
    applyPoint(state, row.workload, row.point);
    redraw();
  });
  source.addEventListener("end", async (m) => {
    source.close();
    const end = JSON.parse((m as MessageEvent).data);
    if (end.verdict === "not-stored" || end.verdict === "gone") {
      header.append(h("div", { class: "error" }, `the run ended without a result (${end.exit ?? end.verdict})`),
                    h("pre", { class: "log" }, end.log ?? ""));
      return;
    }
    await renderFinished();
  });
}

// ---- History ----

async function historyView(query: URLSearchParams) {
  const flow = h("input", { placeholder: "flow", value: query.get("flow") ?? "", name: "flow" }) as HTMLInputElement;
  const verdict = h("select", { name: "verdict" }, ...["", "pass", "fail", "unknown", "running"].map((v) =>
    h("option", { value: v, ...(query.get("verdict") === v ? { selected: true } : {}) }, v || "any verdict"))) as HTMLSelectElement;
  const since = h("input", { type: "date", name: "since", value: (query.get("since") ?? "").slice(0, 10) }) as HTMLInputElement;
  const matrix = h("input", { placeholder: "matrix id", value: query.get("matrix") ?? "", name: "matrix" }) as HTMLInputElement;
  const offset = Number(query.get("offset") ?? 0);
  const limit = 50;
  const apply = (off = 0) => {
    const q = new URLSearchParams();
    if (flow.value) q.set("flow", flow.value);
    if (verdict.value) q.set("verdict", verdict.value);
    if (since.value) q.set("since", since.value);
    if (matrix.value) q.set("matrix", matrix.value);
    if (off) q.set("offset", String(off));
    location.hash = `#/history?${q}`;
  };
  const form = h("form", { class: "filters" }, flow, verdict, since, matrix, h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (e) => { e.preventDefault(); apply(); });
  const q = new URLSearchParams(query);
  q.set("limit", String(limit));
  const data = await api.runs(`?${q}`);
  const selected = new Set<string>();
  const compare = h("button", { disabled: true, "data-action": "compare" }, "Compare selected") as HTMLButtonElement;
  compare.addEventListener("click", () => { location.hash = `#/compare/${[...selected].join(",")}`; });
  const table = h("table", { class: "grid", "data-table": "history", "data-query": query.toString() },
    h("tr", {}, h("th", {}, ""), h("th", {}, "run"), h("th", {}, "flow"), h("th", {}, "verdict"), h("th", {}, "started (UTC)"), h("th", {}, "duration")));
  for (const r of data.runs) {
    const box = h("input", { type: "checkbox" }) as HTMLInputElement;
    box.addEventListener("change", () => {
      if (box.checked) selected.add(r.run_id); else selected.delete(r.run_id);
      compare.disabled = selected.size < 2;
    });
    table.append(h("tr", {}, h("td", {}, box), h("td", {}, h("a", { href: `#/run/${r.run_id}` }, r.run_id)), h("td", {}, r.flow),
      h("td", {}, verdictBadge(r.verdict)), h("td", {}, (r.started_at ?? "").replace("T", " ").replace("Z", "")),
      h("td", {}, r.duration_s === null ? "–" : `${fmt(r.duration_s, 1)} s`)));
  }
  const pager = h("div", { class: "pager" },
    offset > 0 ? h("button", { onclick: () => apply(Math.max(0, offset - limit)) }, "← newer") : null,
    h("span", { class: "muted" }, `${data.total ? offset + 1 : 0}–${offset + data.runs.length} of ${data.total}`),
    offset + limit < data.total ? h("button", { onclick: () => apply(offset + limit) }, "older →") : null);
  const matrixId = query.get("matrix");
  const wholeMatrix = matrixId && data.total > 1
    ? h("a", { class: "button", href: `#/compare/matrix/${encodeURIComponent(matrixId)}`, "data-action": "compare-matrix" },
        `Compare the ${data.total} runs of matrix ${matrixId}`)
    : "";
  app.replaceChildren(h("h2", {}, "History"), form, compare, wholeMatrix, table, pager);
}

// ---- Compare ----

// The runs of one matrix side by side, in the order of its combinations.
async function compareMatrixView(matrixId: string) {
  const data = await api.runs(`?${new URLSearchParams({ matrix: matrixId, limit: "1000" })}`);
  if (!data.runs.length) {
    app.replaceChildren(h("h2", {}, `Matrix ${matrixId}`), h("p", {}, "No stored runs of this matrix."));
    return;
  }
  await compareView(data.runs.map((r: Json) => r.run_id), matrixId);
}

async function compareView(given: string[], matrixId?: string) {
  let ids = given;
  let results = await Promise.all(ids.map((id) => api.run(id)));
  if (matrixId) {
    const order = results.map((r, i) => ({ r, id: ids[i] })).sort((a, b) => (a.r.matrix?.index ?? 0) - (b.r.matrix?.index ?? 0));
    ids = order.map((o) => o.id);
    results = order.map((o) => o.r);
  }
  const series = await Promise.all(ids.map((id) => api.series(id, 300)));
  const rows: [string, (r: Json, w: Json) => string][] = [
    ["flow", (r) => r.flow], ["verdict", (r) => r.verdict], ["started", (r) => r.started_at],
    ["params", (r) => Object.entries(r.params ?? {}).map(([k, v]) => `${k}=${v}`).join(" ")],
    ["sent", (_, w) => fmt(w?.sent)], ["acked", (_, w) => fmt(w?.acked)], ["received", (_, w) => fmt(w?.received)],
    ["lost", (_, w) => fmt(w?.delivery?.lost ?? 0)], ["duplicated", (_, w) => fmt(w?.delivery?.duplicated ?? 0)],
    ["sent/s", (_, w) => fmt(w?.throughput?.sent_per_s, 1)],
    ["e2e p50 ms", (_, w) => fmt(w?.latency_ms?.end_to_end?.p50, 2)],
    ["e2e p99 ms", (_, w) => fmt(w?.latency_ms?.end_to_end?.p99, 2)],
    ["e2e max ms", (_, w) => fmt(w?.latency_ms?.end_to_end?.max, 2)],
  ];
  const firstWorkload = (r: Json) => Object.values(r.workloads ?? {})[0] as Json;
  const table = h("table", { class: "grid", "data-table": "compare" },
    h("tr", {}, h("th", {}, ""), ...ids.map((id) => h("th", {}, h("a", { href: `#/run/${id}` }, id)))),
    ...rows.map(([label, f]) => h("tr", {}, h("th", {}, label), ...results.map((r) => h("td", {}, f(r, firstWorkload(r)))))));
  // One chart: end-to-end p99 of each run's first workload over its own load time.
  const xs = new Set<number>();
  const perRun = series.map((s) => Object.values(s.workloads)[0] as Json | undefined);
  for (const w of perRun) for (const t of w?.t ?? []) xs.add(t);
  const x = [...xs].sort((a, b) => a - b);
  const colors = ["#4c78a8", "#e45756", "#54a24b", "#f58518", "#b279a2", "#72b7b2"];
  const lines = perRun.map((w, i) => {
    const byT = new Map<number, number>();
    (w?.t ?? []).forEach((t: number, j: number) => byT.set(t, w.end_to_end_p99_ms[j]));
    return { label: ids[i], values: x.map((t) => byT.get(t) ?? null), color: colors[i % colors.length] };
  });
  const chart = timeChart("end-to-end p99 by run", x, lines, [], "ms", chartWidth());
  charts["compare:e2e_p99"] = chart.plot;
  app.replaceChildren(h("h2", {}, matrixId ? `Matrix ${matrixId}: ${ids.length} runs` : `Compare ${ids.length} runs`),
                      table, chart.el);
}

// ---- Router ----

async function route() {
  for (const f of cleanup) f();
  cleanup = [];
  for (const k of Object.keys(charts)) {
    charts[k].destroy();
    delete charts[k];
  }
  const hash = location.hash.replace(/^#/, "") || "/flows";
  const [path, queryText] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  document.querySelectorAll("nav a").forEach((a) =>
    a.classList.toggle("active", (a as HTMLElement).dataset.nav === parts[0]));
  try {
    if (parts[0] === "flows") await flowsView(parts[1]);
    else if (parts[0] === "launch" && parts[1]) await launchView(parts[1]);
    else if (parts[0] === "run" && parts[1]) await runView(parts[1]);
    else if (parts[0] === "history") await historyView(new URLSearchParams(queryText ?? ""));
    else if (parts[0] === "compare" && parts[1] === "matrix" && parts[2]) await compareMatrixView(parts[2]);
    else if (parts[0] === "compare" && parts[1]) await compareView(parts[1].split(","));
    else await flowsView();
  } catch (e) {
    app.replaceChildren(errorBox(e));
  }
}

window.addEventListener("hashchange", route);
route();
