// A run's faults as the run view draws them: one FaultInfo per injected fault (from the stored
// result's `faults[]`, or live from FAULT_INJECTED / FAULT_HEALED events and the fault record they
// carry), their windows on a workload's time axis, and what each one touches in the topology —
// nodes down or paused, hosts impaired, links impaired or cut by a partition.
import { Json } from "./api";
import { ms } from "./dom";

export interface FaultInfo {
  step: string;
  kind: string; // the fault's own kind: kill, stop, pause, restart, delay, impair, partition
  target: string;
  backend: string;
  details: Json;
  start: number; // ms since the epoch
  end: number | null; // null: still active
}

export interface FaultWindow {
  from_s: number;
  to_s: number | null; // null: still active, drawn to the end of the axis
  step?: string;
  label?: string;
}

export function faultLabel(f: { step?: string; kind?: string; target?: string; backend?: string }): string {
  const via = f.backend ? ` via ${f.backend}` : "";
  return `${f.step ?? ""}: ${f.kind ?? ""} ${f.target ?? ""}${via}`.trim();
}

export function faultsOfResult(result: Json): FaultInfo[] {
  return (result?.faults ?? []).map((f: Json) => ({
    step: f.step ?? "", kind: f.kind ?? "", target: f.target ?? "", backend: f.backend ?? "",
    details: f.details ?? {}, start: f.start_ns ? f.start_ns / 1e6 : ms(f.start),
    end: f.end_ns ? f.end_ns / 1e6 : f.end ? ms(f.end) : null,
  }));
}

// Applies a FAULT_INJECTED or FAULT_HEALED event to the live list. Events carry the fault's record
// (`fault`); without it (older runs) kind, target and backend come from the message
// "KIND on TARGET via BACKEND".
export function applyFaultEvent(faults: FaultInfo[], e: Json, t: number) {
  if (e.type === "FAULT_INJECTED") {
    const m = /^(\S+) on (.+?)(?: via (\S+))?$/.exec(e.message ?? "");
    const rec = e.fault ?? {};
    faults.push({ step: e.step ?? "", kind: rec.kind ?? (m ? m[1] : ""), target: rec.target ?? (m ? m[2] : ""),
                  backend: rec.backend ?? (m && m[3] ? m[3] : ""), details: rec.details ?? {}, start: t, end: null });
  } else if (e.type === "FAULT_HEALED") {
    for (let i = faults.length - 1; i >= 0; i--) {
      if (faults[i].step === (e.step ?? "") && faults[i].end === null) {
        faults[i].end = t;
        break;
      }
    }
  }
}

// The faults' windows in seconds since `loadStart` (ms since the epoch).
export function windowsOn(faults: FaultInfo[], loadStart: number): FaultWindow[] {
  return faults.map((f) => ({
    from_s: (f.start - loadStart) / 1000, to_s: f.end === null ? null : (f.end - loadStart) / 1000,
    step: f.step, label: faultLabel(f),
  }));
}

export function activeAt(f: FaultInfo, t: number): boolean {
  return f.start <= t && (f.end === null || t < f.end);
}

// What a fault touches. `links` are host pairs (a host is a node name or "clients").
export interface FaultEffect {
  nodes: string[];
  nodeState: "down" | "paused" | "impaired" | "isolated";
  links: [string, string][];
  linkState: "impaired" | "cut";
}

function splitList(text: string): string[] {
  return text.split(/[,+]/).map((s) => s.trim()).filter(Boolean);
}

export function effectOf(f: FaultInfo): FaultEffect {
  const d = f.details ?? {};
  if (["kill", "stop", "restart", "pause"].includes(f.kind)) {
    const nodes: string[] = Array.isArray(d.nodes) ? d.nodes : splitList(f.target);
    return { nodes, nodeState: f.kind === "pause" ? "paused" : "down", links: [], linkState: "cut" };
  }
  if (f.kind === "partition") {
    const links: [string, string][] = [];
    for (const p of d.blocked ?? []) if (Array.isArray(p) && p.length === 2) links.push([String(p[0]), String(p[1])]);
    const spec = d.partition ?? {};
    let nodes: string[] = [];
    if (Array.isArray(spec.nodes)) nodes = spec.nodes;
    else if (!links.length) {
      const isolate = /^isolate (.+)$/.exec(f.target);
      if (isolate) nodes = splitList(isolate[1]);
      const oneWay = /^(\S+) -\/-> (\S+)$/.exec(f.target);
      if (oneWay) links.push([oneWay[1], oneWay[2]]);
    }
    return { nodes, nodeState: "isolated", links, linkState: "cut" };
  }
  // Impairments: links "a -> b" or endpoints (every link of a host); a node delay is its host's.
  const links: [string, string][] = [];
  const nodes: string[] = [];
  const list: Json[] = Array.isArray(d.impairments) ? d.impairments : [];
  if (list.length) {
    for (const i of list) {
      if (i.from && i.to) links.push([String(i.from), String(i.to)]);
      else if (i.endpoint) nodes.push(String(i.endpoint));
    }
  } else {
    for (const part of f.target.split(",").map((s) => s.trim()).filter(Boolean)) {
      const link = /^(\S+) -> (\S+)$/.exec(part);
      if (link) links.push([link[1], link[2]]);
      else nodes.push(part);
    }
  }
  return { nodes, nodeState: "impaired", links, linkState: "impaired" };
}
