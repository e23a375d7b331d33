// Drawing: the step DAG (dagre layout, SVG), the step Gantt chart, uPlot time series with fault
// windows shaded, and the topology of a run's nodes and clients.
import dagre from "@dagrejs/dagre";
import uPlot from "uplot";
import { Json, } from "./api";
import { h, s } from "./dom";

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

export function ganttSvg(bars: GanttBar[], t0: number, now: number, faults: { start: number; end: number | null }[]): SVGElement {
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
                           height: height - 20, class: "fault-window" }));
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

export interface FaultWindow { from_s: number; to_s: number | null; step?: string }

// A uPlot chart whose plot area shades each fault window; `charts` keeps it for tests and updates.
export function timeChart(title: string, x: number[], lines: { label: string; values: (number | null)[]; color: string }[],
                          windows: FaultWindow[], yLabel: string, width: number): { el: HTMLElement; plot: uPlot } {
  const el = h("div", { class: "chart", "data-chart": title });
  const opts: uPlot.Options = {
    title,
    width,
    height: 220,
    scales: { x: { time: false } },
    axes: [{ label: "seconds since the load started" }, { label: yLabel, size: 60 }],
    series: [{ label: "t" }, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 1.5, spanGaps: false }))],
    hooks: {
      drawClear: [
        (u: uPlot) => {
          const ctx = u.ctx;
          ctx.save();
          ctx.fillStyle = "rgba(228, 87, 86, 0.15)";
          for (const w of windows) {
            const x0 = u.valToPos(w.from_s, "x", true);
            const xMax = u.scales.x.max ?? w.from_s;
            const x1 = u.valToPos(w.to_s ?? xMax, "x", true);
            ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
          }
          ctx.restore();
        },
      ],
    },
  };
  const plot = new uPlot(opts, [x, ...lines.map((l) => l.values)] as uPlot.AlignedData, el);
  return { el, plot };
}

// Nodes of each cluster, the clients of each workload, and links between them; nodes and links
// under an active fault are drawn red.
export function topologySvg(clusters: { id: string; nodes: string[] }[], workloads: string[],
                            faultedNodes: Map<string, boolean>, linkFaults: string[]): SVGElement {
  const width = 900;
  const rows = Math.max(1, clusters.length);
  const height = rows * 120 + 40 + linkFaults.length * 16;
  const svg = s("svg", { class: "topology", viewBox: `0 0 ${width} ${height}`, width: "100%" });
  const clientX = 90;
  workloads.forEach((w, i) => {
    const y = 40 + i * 50;
    svg.append(s("rect", { x: clientX - 70, y: y - 16, width: 140, height: 32, rx: 6, class: "client" }));
    svg.append(s("text", { x: clientX, y: y + 5, class: "node-id dark" }, `${w} (clients)`));
  });
  clusters.forEach((c, ci) => {
    const y = 60 + ci * 120;
    svg.append(s("text", { x: 320, y: y - 36, class: "gantt-label" }, `cluster ${c.id}`));
    c.nodes.forEach((n, ni) => {
      const x = 340 + ni * Math.min(140, 520 / Math.max(1, c.nodes.length));
      workloads.forEach((_, wi) => {
        svg.append(s("line", { x1: clientX + 70, y1: 40 + wi * 50, x2: x, y2: y, class: "link" }));
      });
      const state = faultedNodes.get(n);
      svg.append(s("circle", { cx: x, cy: y, r: 24, "data-node": n,
                               class: "topo-node" + (state === true ? " active-fault" : state === false ? " past-fault" : "") }));
      svg.append(s("text", { x, y: y + 40, class: "node-kind dark" }, n));
    });
  });
  linkFaults.forEach((f, i) => {
    svg.append(s("text", { x: 20, y: rows * 120 + 30 + i * 16, class: "link-fault" }, f));
  });
  return svg;
}
