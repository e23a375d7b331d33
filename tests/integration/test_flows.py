"""The example flows, end to end through the binary, asserting on the result JSON and history."""
import collections
import os
import unittest

from drone_test_support import FLOWS, TempDir, load_json, read_history, run_drone, validate_result


class QuickstartTest(unittest.TestCase):
    """flows/quickstart.yaml: acks=all through a broker outage loses nothing."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        d = cls.tmp.__enter__()
        cls.json_path = os.path.join(d, "result.json")
        cls.history_path = os.path.join(d, "history.jsonl")
        cls.proc = run_drone("run", os.path.join(FLOWS, "quickstart.yaml"), "--json", cls.json_path,
                             "--history", cls.history_path)
        cls.result = load_json(cls.json_path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.__exit__(None, None, None)

    def test_passes_with_exit_code_zero(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stdout + self.proc.stderr)
        self.assertEqual(self.result["verdict"], "pass")

    def test_result_matches_the_contract(self):
        validate_result(self.result)

    def test_no_acknowledged_message_was_lost(self):
        w = self.result["workloads"]["load"]
        self.assertGreater(w["sent"], 20000)
        self.assertEqual(w["delivery"]["lost"], 0)
        self.assertEqual(w["delivery"]["unseen"], 0)
        self.assertGreaterEqual(w["received"], w["acked"])
        self.assertEqual(w["acked"] + w["failed"] + w["indeterminate"], w["sent"])
        self.assertTrue(w["delivery_checked"])
        for kind in ("publish", "end_to_end"):
            lat = w["latency_ms"][kind]
            self.assertGreater(lat["count"], 0)
            self.assertLessEqual(lat["p50"], lat["p99"])
            self.assertLessEqual(lat["p99"], lat["max"])

    def test_the_outage_really_happened_and_was_healed(self):
        faults = self.result["faults"]
        self.assertEqual(len(faults), 1)
        self.assertEqual(faults[0]["kind"], "kill")
        self.assertEqual(faults[0]["target"], "broker-2")
        self.assertEqual(faults[0]["backend"], "embedded-mock")
        held_s = (faults[0]["end_ns"] - faults[0]["start_ns"]) / 1e9
        self.assertGreaterEqual(held_s, 7.9)
        types = [e["type"] for e in self.result["events"]]
        self.assertIn("FAULT_INJECTED", types)
        self.assertIn("FAULT_HEALED", types)
        self.assertLess(types.index("FAULT_HEALED"), types.index("RUN_END"))

    def test_every_check_passed(self):
        checks = self.result["checks"]
        self.assertEqual(len(checks), 4)
        self.assertTrue(all(c["passed"] for c in checks), checks)

    def test_history_rederives_the_verdict(self):
        lines = read_history(self.history_path)
        sends = [l for l in lines if l["t"] == "send"]
        recvs = [l for l in lines if l["t"] == "recv"]
        w = self.result["workloads"]["load"]
        self.assertEqual(len(sends), w["sent"])
        self.assertEqual(len(recvs), w["received"])
        acked = {s["id"] for s in sends if s["outcome"] == "ack"}
        self.assertEqual(len(acked), w["acked"])
        received = collections.Counter(r["id"] for r in recvs)
        self.assertEqual(len(acked - set(received)), w["delivery"]["lost"])
        dups = sum(1 for c in received.values() if c > 1)
        self.assertEqual(dups, w["delivery"]["duplicated"])

    def test_series_cover_the_run(self):
        series = self.result["workloads"]["load"]["series"]
        self.assertGreaterEqual(len(series), 18)
        self.assertEqual(sum(p["sent"] for p in series), self.result["workloads"]["load"]["sent"])


class Acks0OutageTest(unittest.TestCase):
    """flows/kafka-acks0-outage.yaml: acks=0 through an outage loses acknowledged messages."""

    def test_reports_the_loss(self):
        with TempDir() as d:
            out = os.path.join(d, "r.json")
            hist = os.path.join(d, "h.jsonl")
            proc = run_drone("run", os.path.join(FLOWS, "kafka-acks0-outage.yaml"), "--json", out,
                             "--history", hist)
            result = load_json(out)
            validate_result(result)
            w = result["workloads"]["load"]
            self.assertGreater(w["delivery"]["lost"], 0, proc.stdout)
            self.assertEqual(w["delivery"]["lost"], w["delivery"]["lost_gap"] + w["delivery"]["lost_tail"])
            self.assertTrue(w["delivery"]["examples"]["lost"])
            # at-most-once tolerates loss: the flow passes because Drone saw the loss it expects.
            self.assertEqual(result["verdict"], "pass", proc.stdout)
            self.assertEqual(proc.returncode, 0)
            # Independent re-derivation from the history file.
            lines = read_history(hist)
            acked = {l["id"] for l in lines if l["t"] == "send" and l["outcome"] == "ack"}
            received = {l["id"] for l in lines if l["t"] == "recv"}
            self.assertEqual(len(acked - received), w["delivery"]["lost"])

    def test_same_flow_fails_when_declared_at_least_once(self):
        # The same loss under an at-least-once promise is a failed verdict (exit 1).
        with TempDir() as d:
            src = open(os.path.join(FLOWS, "kafka-acks0-outage.yaml")).read()
            flow = os.path.join(d, "alo.yaml")
            with open(flow, "w") as f:
                f.write(src.replace("delivery: at-most-once", "delivery: at-least-once")
                           .replace('lost: "> 0"', 'lost: "> 0"\n        sent: "> 0"'))
            out = os.path.join(d, "r.json")
            proc = run_drone("run", flow, "--json", out, "-p", "duration=10s")
            result = load_json(out)
            self.assertEqual(result["verdict"], "fail", proc.stdout)
            self.assertEqual(proc.returncode, 1)
            self.assertTrue(any("lost" in r for r in result["reasons"]), result["reasons"])


if __name__ == "__main__":
    unittest.main()


class PhasedFaultsTest(unittest.TestCase):
    """flows/phased-faults.yaml: three faults in sequence under one load, a check after each."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        d = cls.tmp.__enter__()
        cls.json_path = os.path.join(d, "result.json")
        cls.proc = run_drone("run", os.path.join(FLOWS, "phased-faults.yaml"), "--json", cls.json_path,
                             "--no-store", timeout=120)
        cls.result = load_json(cls.json_path)
        cls.events = cls.result["events"]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.__exit__(None, None, None)

    def index(self, type_, step):
        for i, e in enumerate(self.events):
            if e["type"] == type_ and e.get("step") == step:
                return i
        self.fail("no %s event for %s" % (type_, step))

    def test_passes_and_matches_the_contract(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stdout + self.proc.stderr)
        self.assertEqual(self.result["verdict"], "pass")
        validate_result(self.result)

    def test_the_three_faults_ran_one_after_another_during_the_load(self):
        faults = self.result["faults"]
        self.assertEqual([f["step"] for f in faults], ["kill-1", "delay-2", "kill-3"])
        self.assertEqual([f["kind"] for f in faults], ["kill", "delay", "kill"])
        self.assertEqual(len({f["target"] for f in faults}), 3)
        for earlier, later in zip(faults, faults[1:]):
            self.assertLessEqual(earlier["end"], later["start"])
        load_start = self.index("STEP_START", "load")
        load_end = self.index("STEP_SUCCESS", "load")
        for step in ("kill-1", "delay-2", "kill-3"):
            self.assertLess(load_start, self.index("FAULT_INJECTED", step))
            self.assertLess(self.index("FAULT_HEALED", step), load_end)

    def test_each_phase_was_checked_after_its_fault_and_before_the_next(self):
        order = [("FAULT_HEALED", "kill-1"), ("STEP_SUCCESS", "progress-1"), ("CHECK_PASSED", "check-1"),
                 ("FAULT_INJECTED", "delay-2"), ("FAULT_HEALED", "delay-2"), ("STEP_SUCCESS", "progress-2"),
                 ("CHECK_PASSED", "check-2"), ("FAULT_INJECTED", "kill-3"), ("FAULT_HEALED", "kill-3"),
                 ("STEP_SUCCESS", "progress-3"), ("CHECK_PASSED", "check-3"), ("STEP_SUCCESS", "load")]
        positions = [self.index(t, s) for t, s in order]
        self.assertEqual(positions, sorted(positions))
        self.assertNotIn("CHECK_FAILED", [e["type"] for e in self.events])
        checks = collections.defaultdict(list)
        for c in self.result["checks"]:
            checks[c["step"]].append(c)
        for step in ("check-1", "check-2", "check-3"):
            self.assertEqual([c["expect"] for c in checks[step]], ["failed == 0", "indeterminate == 0"])
            self.assertTrue(all(c["passed"] for c in checks[step]))
            # Evaluated on the live totals of the running load, not on its final result.
            passed = [e for e in self.events if e["type"] == "CHECK_PASSED" and e["step"] == step]
            self.assertTrue(all("live totals" in e["message"] for e in passed))
        self.assertTrue(all(c["passed"] for c in checks["verify"]))

    def test_consumers_made_progress_in_every_phase(self):
        steps = {s["id"]: s for s in self.result["steps"]}
        seen = [steps["progress-%d" % k]["outputs"]["observed"]["received >= %d" % (3000 * k)]
                for k in (1, 2, 3)]
        self.assertEqual(seen, sorted(seen))
        for k, received in enumerate(seen, start=1):
            self.assertGreaterEqual(received, 3000 * k)
        self.assertLess(seen[-1], self.result["workloads"]["load"]["received"])

    def test_the_independent_branch_ran_beside_the_cluster(self):
        steps = {s["id"]: s for s in self.result["steps"]}
        self.assertEqual(steps["host"]["status"], "succeeded")
        self.assertTrue(steps["host"]["outputs"]["stdout"])
        # It needs nothing, so it starts with the first wave, before the topic (which waits for
        # the cluster) is made. (The embedded cluster itself can be ready within milliseconds, so
        # racing it would be timing; the scheduler's own tests prove parallelism on a fake clock.)
        self.assertLess(self.index("STEP_START", "host"), self.index("STEP_SUCCESS", "topic"))
