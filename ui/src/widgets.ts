// Drawing: the step DAG (dagre layout, SVG), the step Gantt chart, uPlot time series with fault
// windows shaded, and the topology of a run's nodes and clients.
import dagre from "@dagrejs/dagre";
import uPlot from "uplot";
import { Json, } from "./api";
import { h, s } from "./dom";
import { activeAt, effectOf, FaultInfo, faultLabel, FaultWindow } from "./faults";

export function kindColor(kind: string): string {
  if (kind.startsWith("fault")) return "#e45756";
  return ({ cluster: "#4c78a8", topic: "#72b7b2", workload: "#54a24b", check: "#eeca3b",
            sleep: "#bab0ac", exec: "#b279a2" } as Record<string, string>)[kind] ?? "#9d9d9d";
}

export const STATUS_COLORS: Record<string, string> = {
  pending: "#d0d0d0", running: "#4c78a8", succeeded: "#54a24b", failed: "#e45756",
  skipped: "#bab0ac", cancelled: "#f58518",
};

// The flow's steps as a graph: one box per step coloured by kind, an edge per `needs`.
export function dagSvg(steps: Json[], states: Record<string, string> = {}): SVGElement {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 40, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const st of steps) g.setNode(st.id, { width: Math.max(90, st.id.length * 8 + 24), height: 40 });
  for (const st of steps) {
    for (const n of st.needs ?? []) if (g.hasNode(n.step)) g.setEdge(n.step, st.id, { state: n.state });
  }
  dagre.layout(g);
  const graph = g.graph();
  const width = (graph.width ?? 200) + 4;
  const height = (graph.height ?? 60) + 4;
  const svg = s("svg", { class: "dag", viewBox: `0 0 ${width} ${height}`, width, height });
  for (const e of g.edges()) {
    const edge = g.edge(e) as Json;
    const d = edge.points.map((p: Json, i: number) => `${i ? "L" : "M"}${p.x},${p.y}`).join(" ");
    svg.append(s("path", { d, class: "edge" + (edge.state !== "succeeded" ? " soft" : "") }));
    if (edge.state && edge.state !== "succeeded") {
      const mid = edge.points[Math.floor(edge.points.length / 2)];
      svg.append(s("text", { x: mid.x, y: mid.y - 4, class: "edge-label" }, edge.state));
    }
  }
  for (const st of steps) {
    const n = g.node(st.id);
    const state = states[st.id];
    const node = s("g", { class: "node", "data-step": st.id, "data-kind": st.kind,
                         transform: `translate(${n.x - n.width / 2},${n.y - n.height / 2})` });
    node.append(s("rect", { width: n.width, height: n.height, rx: 6, fill: kindColor(st.kind),
                            stroke: state ? STATUS_COLORS[state] ?? "#333" : "none",
                            "stroke-width": state ? 3 : 0 }));
    node.append(s("text", { x: n.width / 2, y: 17, class: "node-id" }, st.id));
    node.append(s("text", { x: n.width / 2, y: 32, class: "node-kind" },
                  st.kind + (st.background ? " · bg" : "") + (st.finally ? " · finally" : "")));
    svg.append(node);
  }
  return svg;
}

export interface GanttBar {
  id: string;
  kind: string;
  status: string;
  start: number; // ms since epoch
  end: number | null; // null: still running
}

export function ganttSvg(bars: GanttBar[], t0: number, now: number,
                         faults: { start: number; end: number | null; label?: string }[]): SVGElement {
  const rowH = 22;
  const labelW = 130;
  const width = 900;
  const end = Math.max(now, ...bars.map((b) => b.end ?? now), t0 + 1000);
  const span = end - t0;
  const x = (t: number) => labelW + ((t - t0) / span) * (width - labelW - 10);
  const height = bars.length * rowH + 24;
  const svg = s("svg", { class: "gantt", viewBox: `0 0 ${width} ${height}`, width: "100%" });
  for (const f of faults) {
    svg.append(s("rect", { x: x(f.start), y: 0, width: Math.max(2, x(f.end ?? now) - x(f.start)),
                           height: height - 20, class: "fault-window", "data-open": String(f.end === null) },
                 s("title", {}, f.label ?? "fault")));
  }
  bars.forEach((b, i) => {
    const y = i * rowH + 2;
    svg.append(s("text", { x: 4, y: y + 14, class: "gantt-label" }, b.id));
    const x1 = x(b.start);
    const x2 = x(b.end ?? now);
    svg.append(s("rect", { x: x1, y, width: Math.max(3, x2 - x1), height: rowH - 6, rx: 3,
                           fill: STATUS_COLORS[b.status] ?? kindColor(b.kind), "data-step": b.id,
                           "data-status": b.status, class: "gantt-bar" },
                 s("title", {}, `${b.id} (${b.kind}): ${b.status}, ${((x2 - x1) > 0 ? ((b.end ?? now) - b.start) / 1000 : 0).toFixed(1)} s`)));
  });
  const ticks = 6;
  for (let i = 0; i <= ticks; i++) {
    const t = t0 + (span * i) / ticks;
    svg.append(s("text", { x: x(t), y: height - 6, class: "tick" }, `${((t - t0) / 1000).toFixed(span < 20000 ? 1 : 0)}s`));
  }
  return svg;
}

// A uPlot chart whose plot area shades each fault window: one element per window over the plot
// (`.fault-band`, its title naming the fault, `data-open` while it is active: an open window
// reaches the end of the axis), and a legend of the faults below the chart.
export function timeChart(title: string, x: number[], lines: { label: string; values: (number | null)[]; color: string }[],
                          windows: FaultWindow[], yLabel: string, width: number): { el: HTMLElement; plot: uPlot } {
  const el = h("div", { class: "chart", "data-chart": title });
  const bands: HTMLElement[] = [];
  const place = (u: uPlot) => {
    const xMin = u.scales.x.min ?? 0;
    const xMax = u.scales.x.max ?? xMin;
    windows.forEach((w, i) => {
      const band = bands[i];
      if (!band) return;
      const from = Math.max(xMin, w.from_s);
      const to = Math.min(xMax, w.to_s ?? xMax);
      const visible = to > from || (w.to_s === null && from <= xMax);
      const left = u.valToPos(from, "x");
      const right = u.valToPos(Math.max(from, to), "x");
      band.style.left = `${left}px`;
      band.style.width = `${Math.max(2, right - left)}px`;
      band.style.display = visible ? "" : "none";
      band.dataset.visible = String(visible);
    });
  };
  const opts: uPlot.Options = {
    title,
    width,
    height: 220,
    scales: { x: { time: false } },
    axes: [{ label: "seconds since the load started" }, { label: yLabel, size: 60 }],
    series: [{ label: "t" }, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 1.5, spanGaps: false }))],
    hooks: {
      ready: [
        (u: uPlot) => {
          for (const w of windows) {
            const band = h("div", { class: "fault-band", title: `${w.label ?? w.step ?? "fault"} (${fmtWindow(w)})`,
                                    "data-step": w.step ?? "", "data-open": String(w.to_s === null),
                                    "data-from": String(w.from_s), "data-to": w.to_s === null ? "" : String(w.to_s) });
            bands.push(band);
            u.over.append(band);
          }
          place(u);
        },
      ],
      draw: [place],
    },
  };
  const plot = new uPlot(opts, [x, ...lines.map((l) => l.values)] as uPlot.AlignedData, el);
  if (windows.length) {
    el.append(h("div", { class: "fault-legend" }, ...windows.map((w) =>
      h("span", { "data-step": w.step ?? "", class: w.to_s === null ? "open" : "" }, h("i", {}),
        `${w.label ?? w.step ?? "fault"} · ${fmtWindow(w)}`))));
  }
  return { el, plot };
}

function fmtWindow(w: FaultWindow): string {
  return `${w.from_s.toFixed(1)} s – ${w.to_s === null ? "now" : `${w.to_s.toFixed(1)} s`}`;
}

export const CLIENTS_HOST = "clients";

function linkKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

// The topology at time `at` (ms since the epoch): the clients of each workload, the nodes of each
// cluster and the links between them. A node under an active process fault is drawn as down or
// paused, under a network fault as impaired or isolated; links an active impairment or partition
// touches are highlighted (node-to-node links are drawn only then); what a fault touched before
// `at` and no longer does is ringed. Below, every fault with its window and its state at `at`.
export function topologySvg(clusters: { id: string; nodes: string[] }[], workloads: string[],
                            faults: FaultInfo[], at: number, t0: number): SVGElement {
  const width = 900;
  const rowH = 140;
  const rows = Math.max(1, clusters.length);
  const clients = workloads.length ? workloads : [CLIENTS_HOST];
  const listTop = Math.max(rows * rowH, clients.length * 50 + 20) + 20;
  const height = listTop + faults.length * 18 + 10;
  const svg = s("svg", { class: "topology", viewBox: `0 0 ${width} ${height}`, width: "100%",
                         "data-at": String(Math.round(at)) });

  // Where each host is; the clients host is every workload's client box.
  const clientX = 90;
  const pos = new Map<string, { x: number; y: number }[]>();
  clients.forEach((_, i) => {
    const p = { x: clientX + 70, y: 40 + i * 50 };
    pos.set(CLIENTS_HOST, [...(pos.get(CLIENTS_HOST) ?? []), p]);
  });
  clusters.forEach((c, ci) => {
    const y = 80 + ci * rowH;
    c.nodes.forEach((n, ni) => {
      pos.set(n, [{ x: 340 + ni * Math.min(140, 520 / Math.max(1, c.nodes.length)), y }]);
    });
  });

  // State at `at`.
  const nodeState = new Map<string, { state: string; faults: string[] }>();
  const pastNodes = new Set<string>();
  const linkState = new Map<string, { state: string; faults: string[]; a: string; b: string }>();
  const pastLinks = new Set<string>();
  for (const f of faults) {
    const e = effectOf(f);
    const active = activeAt(f, at);
    const past = !active && f.end !== null && f.end <= at;
    for (const n of e.nodes) {
      if (active) {
        const cur = nodeState.get(n) ?? { state: e.nodeState, faults: [] };
        // A node both down and impaired is shown down: that is what the clients see.
        if (e.nodeState === "down" || e.nodeState === "paused") cur.state = e.nodeState;
        cur.faults.push(f.step);
        nodeState.set(n, cur);
      } else if (past) pastNodes.add(n);
    }
    for (const [a, b] of e.links) {
      const key = linkKey(a, b);
      if (active) {
        const cur = linkState.get(key) ?? { state: e.linkState, faults: [], a, b };
        if (e.linkState === "cut") cur.state = "cut";
        cur.faults.push(f.step);
        linkState.set(key, cur);
      } else if (past) pastLinks.add(key);
    }
  }

  const drawLink = (a: string, b: string, pa: { x: number; y: number }, pb: { x: number; y: number }, always: boolean) => {
    const key = linkKey(a, b);
    const st = linkState.get(key);
    if (!always && !st && !pastLinks.has(key)) return;
    const cls = "link" + (st ? ` active-fault ${st.state}` : pastLinks.has(key) ? " past-fault" : "");
    const attrs: Record<string, string | number> = { class: cls, "data-link": key };
    let el: SVGElement;
    if (pa.y === pb.y && pa.x !== pb.x && a !== CLIENTS_HOST && b !== CLIENTS_HOST) {
      const lift = 24 + Math.abs(pb.x - pa.x) / 8;
      el = s("path", { ...attrs, d: `M${pa.x},${pa.y - 24} Q${(pa.x + pb.x) / 2},${pa.y - 24 - lift} ${pb.x},${pb.y - 24}`, fill: "none" });
    } else {
      el = s("line", { ...attrs, x1: pa.x, y1: pa.y, x2: pb.x, y2: pb.y });
    }
    if (st) el.append(s("title", {}, `${a} ↔ ${b}: ${st.state} by ${st.faults.join(", ")}`));
    svg.append(el);
  };

  // Client-to-node links always; node-to-node links when a fault touches them.
  for (const c of clusters) {
    for (const n of c.nodes) {
      for (const pc of pos.get(CLIENTS_HOST) ?? []) drawLink(CLIENTS_HOST, n, pc, pos.get(n)![0], true);
    }
  }
  const seen = new Set<string>();
  for (const key of [...linkState.keys(), ...pastLinks]) {
    if (seen.has(key)) continue;
    seen.add(key);
    const [a, b] = key.split("|");
    if (a === CLIENTS_HOST || b === CLIENTS_HOST || !pos.has(a) || !pos.has(b)) continue;
    drawLink(a, b, pos.get(a)![0], pos.get(b)![0], false);
  }

  const clientState = nodeState.get(CLIENTS_HOST);
  clients.forEach((w, i) => {
    const y = 40 + i * 50;
    svg.append(s("rect", { x: clientX - 70, y: y - 16, width: 140, height: 32, rx: 6, "data-host": CLIENTS_HOST,
                           class: "client" + (clientState ? ` active-fault ${clientState.state}` : pastNodes.has(CLIENTS_HOST) ? " past-fault" : "") }));
    svg.append(s("text", { x: clientX, y: y + 5, class: "node-id dark" }, workloads.length ? `${w} (clients)` : "clients"));
  });
  clusters.forEach((c, ci) => {
    const y = 80 + ci * rowH;
    svg.append(s("text", { x: 320, y: y - 60, class: "gantt-label" }, `cluster ${c.id}`));
    for (const n of c.nodes) {
      const { x } = pos.get(n)![0];
      const st = nodeState.get(n);
      const cls = "topo-node" + (st ? ` active-fault ${st.state}` : pastNodes.has(n) ? " past-fault" : "");
      const circle = s("circle", { cx: x, cy: y, r: 24, "data-node": n, "data-state": st ? st.state : pastNodes.has(n) ? "healed" : "ok", class: cls });
      if (st) circle.append(s("title", {}, `${n}: ${st.state} (${st.faults.join(", ")})`));
      svg.append(circle);
      if (st && (st.state === "down" || st.state === "paused")) {
        svg.append(s("text", { x, y: y + 5, class: "node-mark" }, st.state === "down" ? "✕" : "❚❚"));
      }
      svg.append(s("text", { x, y: y + 40, class: "node-kind dark" }, n + (st ? ` · ${st.state}` : "")));
    }
  });

  faults.forEach((f, i) => {
    const active = activeAt(f, at);
    const state = active ? "active" : f.start > at ? "pending" : "healed";
    const window = `${((f.start - t0) / 1000).toFixed(1)} s – ${f.end === null ? "…" : `${((f.end - t0) / 1000).toFixed(1)} s`}`;
    svg.append(s("text", { x: 20, y: listTop + i * 18, class: `link-fault ${state}`, "data-fault": f.step, "data-state": state },
                 `${state}: ${faultLabel(f)} · ${window} into the run`));
  });
  return svg;
}
