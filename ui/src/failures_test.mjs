// The run view's "Why sends failed" rows from a result's workloads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { failureRows } from "./failures.ts";

test("rows come from every workload's errors, most frequent first", () => {
  const result = { workloads: {
    load: { errors: [{ outcome: "indeterminate", error: "no delivery report", count: 7 }] },
    other: { errors: [{ outcome: "nack", error: "No responders available for request", count: 5411 },
                      { outcome: "nack", error: "bad", count: 0 }] },
    quiet: { errors: [] },
    old: {},
  } };
  assert.deepEqual(failureRows(result), [
    { workload: "other", outcome: "nack", error: "No responders available for request", count: 5411 },
    { workload: "load", outcome: "indeterminate", error: "no delivery report", count: 7 },
  ]);
});

test("a result without workloads or errors has no rows", () => {
  assert.deepEqual(failureRows({}), []);
  assert.deepEqual(failureRows(null), []);
  assert.deepEqual(failureRows({ workloads: { load: { errors: null } } }), []);
});
