// Why a run's sends failed, as the run view lists them: every workload's `errors[]` (the broker's
// or client's text per outcome, with counts), most frequent first across workloads.
import { Json } from "./api";

export interface FailureRow {
  workload: string;
  outcome: string; // nack | indeterminate
  error: string;
  count: number;
}

export function failureRows(result: Json): FailureRow[] {
  const rows: FailureRow[] = [];
  for (const [workload, w] of Object.entries((result?.workloads ?? {}) as Record<string, Json>)) {
    for (const e of (w?.errors ?? []) as Json[]) {
      if (!e || typeof e.count !== "number" || e.count <= 0) continue;
      rows.push({ workload, outcome: String(e.outcome ?? ""), error: String(e.error ?? ""), count: e.count });
    }
  }
  return rows.sort((a, b) => b.count - a.count || a.workload.localeCompare(b.workload));
}
