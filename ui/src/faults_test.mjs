// What each kind of fault touches in the topology, and the live fault list built from events.
import { test } from "node:test";
import assert from "node:assert/strict";
import { activeAt, applyFaultEvent, effectOf, faultLabel, faultsOfResult, windowsOn } from "./faults.ts";

const fault = (kind, target, details = {}) =>
  ({ step: "f", kind, target, backend: "b", details, start: 1000, end: 2000 });

test("process faults take their nodes down or pause them", () => {
  assert.deepEqual(effectOf(fault("kill", "broker-2")), { nodes: ["broker-2"], nodeState: "down", links: [], linkState: "cut" });
  assert.deepEqual(effectOf(fault("stop", "broker-1,broker-3")).nodes, ["broker-1", "broker-3"]);
  assert.equal(effectOf(fault("pause", "broker-1")).nodeState, "paused");
  assert.deepEqual(effectOf(fault("restart", "x", { nodes: ["broker-1", "broker-2"] })).nodes, ["broker-1", "broker-2"]);
});

test("a node delay impairs its node", () => {
  const e = effectOf(fault("delay", "broker-1"));
  assert.deepEqual(e.nodes, ["broker-1"]);
  assert.equal(e.nodeState, "impaired");
  assert.deepEqual(e.links, []);
});

test("link impairments name their links, from details or from the target", () => {
  const fromDetails = effectOf(fault("impair", "clients -> broker-1, broker-2", {
    impairments: [{ from: "clients", to: "broker-1", delay: { time: "100ms" } }, { endpoint: "broker-2", loss: 0.1 }] }));
  assert.deepEqual(fromDetails.links, [["clients", "broker-1"]]);
  assert.deepEqual(fromDetails.nodes, ["broker-2"]);
  assert.equal(fromDetails.linkState, "impaired");
  const fromTarget = effectOf(fault("impair", "broker-1 -> broker-2, broker-1 -> broker-3"));
  assert.deepEqual(fromTarget.links, [["broker-1", "broker-2"], ["broker-1", "broker-3"]]);
  assert.deepEqual(fromTarget.nodes, []);
});

test("partitions cut the pairs they block", () => {
  const halves = effectOf(fault("partition", "halves", {
    partition: { partition: "halves" }, blocked: [["broker-1", "broker-2"], ["broker-2", "broker-1"]] }));
  assert.deepEqual(halves.links, [["broker-1", "broker-2"], ["broker-2", "broker-1"]]);
  assert.equal(halves.linkState, "cut");
  const isolate = effectOf(fault("partition", "isolate broker-3, broker-1"));
  assert.deepEqual(isolate.nodes, ["broker-3", "broker-1"]);
  assert.equal(isolate.nodeState, "isolated");
  assert.deepEqual(effectOf(fault("partition", "broker-1 -/-> broker-2")).links, [["broker-1", "broker-2"]]);
});

test("live faults open on FAULT_INJECTED and close on FAULT_HEALED", () => {
  const list = [];
  applyFaultEvent(list, { type: "FAULT_INJECTED", step: "cut", message: "impair on clients -> broker-1 via tc-netem",
                          fault: { kind: "impair", target: "clients -> broker-1", backend: "tc-netem",
                                   details: { impairments: [{ from: "clients", to: "broker-1" }] } } }, 5000);
  // Without the record (an older run) the message says kind, target and backend.
  applyFaultEvent(list, { type: "FAULT_INJECTED", step: "outage", message: "kill on broker-2 via signal" }, 6000);
  assert.equal(list.length, 2);
  assert.deepEqual(effectOf(list[0]).links, [["clients", "broker-1"]]);
  assert.deepEqual([list[1].kind, list[1].target, list[1].backend], ["kill", "broker-2", "signal"]);
  assert.ok(activeAt(list[1], 1e15));
  applyFaultEvent(list, { type: "FAULT_HEALED", step: "outage", message: "kill on broker-2" }, 9000);
  assert.equal(list[1].end, 9000);
  assert.equal(list[0].end, null);
  assert.equal(faultLabel(list[1]), "outage: kill broker-2 via signal");
  assert.deepEqual(windowsOn(list, 4000).map((w) => [w.from_s, w.to_s]), [[1, null], [2, 5]]);
  assert.ok(activeAt(list[1], 8999) && !activeAt(list[1], 9000) && !activeAt(list[1], 5999));
});

test("a stored result's faults keep their windows", () => {
  const [f] = faultsOfResult({ faults: [{ step: "o", kind: "kill", target: "n", backend: "s",
    start: "2026-12-01T10:00:07.000Z", end: null, start_ns: 7e15, end_ns: 0 }] });
  assert.equal(f.start, 7e9);  // ms from start_ns
  assert.equal(f.end, null);
});
