"""The run store as `drone run` fills it and `drone runs show` reads it: histograms per workload and
measurement, the flow text, and every event the run emitted; and `drone run --from-failure`, which
runs a stored run again from its failed step."""
import json
import os
import sqlite3
import unittest

from drone_test_support import TempDir, load_json, run_drone, write_flow

SMALL_FLOW = """name: store-small
steps:
  cluster: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 1 } }
  topic: { kind: topic, needs: [cluster], with: { name: t, partitions: 1 } }
  load: { kind: workload, needs: [topic], with: { topic: t, messages: 300, rate: 1000, size: 100 } }
  nap: { kind: sleep, needs: [topic], with: { duration: 10ms } }
  verify: { kind: check, needs: [load], with: { expect: { lost: 0 } } }
"""

MEASUREMENTS = ["end_to_end", "publish", "send_delay", "service"]


class StoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = TempDir()
        cls.dir = cls._tmp.__enter__()
        cls.data_dir = os.path.join(cls.dir, "data")
        cls.flow_path = write_flow(cls.dir, "small.yaml", SMALL_FLOW)
        out = os.path.join(cls.dir, "result.json")
        r = run_drone("run", cls.flow_path, "--data-dir", cls.data_dir, "--json", out, "-q",
                      timeout=120)
        if r.returncode != 0:
            raise AssertionError("the flow failed: " + r.stderr)
        cls.result = load_json(out)
        cls.run_id = cls.result["run_id"]

    @classmethod
    def tearDownClass(cls):
        cls._tmp.__exit__(None, None, None)

    def db(self):
        return sqlite3.connect(os.path.join(self.data_dir, "runs.db"))

    def test_histograms_are_stored_per_workload_and_measurement(self):
        with self.db() as db:
            rows = db.execute("SELECT workload, measurement, count, length(data) FROM histograms "
                              "WHERE run_id = ? ORDER BY measurement", (self.run_id,)).fetchall()
        self.assertEqual([(w, m) for w, m, _, _ in rows], [("load", m) for m in MEASUREMENTS])
        sent = self.result["workloads"]["load"]["sent"]
        received = self.result["workloads"]["load"]["received"]
        counts = {m: c for _, m, c, _ in rows}
        self.assertEqual(counts["publish"], sent)
        self.assertEqual(counts["end_to_end"], received)
        self.assertTrue(all(n > 0 for _, _, _, n in rows))
        # runs show decodes them: the percentiles it prints agree with the result's.
        r = run_drone("runs", "show", self.run_id, "--data-dir", self.data_dir, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        line = next(l for l in r.stdout.splitlines() if l.strip().startswith("load end_to_end"))
        self.assertIn("n %d " % received, line)
        p99 = float(line.split(" p99 ")[1].split()[0])
        self.assertAlmostEqual(p99, self.result["workloads"]["load"]["latency_ms"]["end_to_end"]["p99"],
                               delta=max(0.01, p99 * 0.002))

    def test_flow_text_is_stored(self):
        with self.db() as db:
            (text,) = db.execute("SELECT flow_text FROM runs WHERE run_id = ?", (self.run_id,)).fetchone()
        self.assertEqual(text, SMALL_FLOW)

    def test_every_event_is_stored_and_shown(self):
        with self.db() as db:
            rows = db.execute("SELECT type, step FROM events WHERE run_id = ? ORDER BY seq",
                              (self.run_id,)).fetchall()
        self.assertEqual(rows, [(e["type"], e.get("step")) for e in self.result["events"]])
        types = {t for t, _ in rows}
        for t in ("RUN_START", "STEP_START", "STEP_OUTPUT", "STEP_SUCCESS", "CHECK_PASSED", "RUN_END"):
            self.assertIn(t, types)
        # Every step that sets outputs says so in an event.
        self.assertEqual({s for t, s in rows if t == "STEP_OUTPUT"},
                         {"cluster", "topic", "load", "nap"})
        r = run_drone("runs", "show", self.run_id, "--data-dir", self.data_dir, timeout=30)
        events = r.stdout.split("\nevents\n")[1].splitlines()
        self.assertEqual(len(events), len(rows))
        self.assertIn("STEP_OUTPUT", events[2])

    def test_no_artifacts_without_a_collect_step(self):
        self.assertNotIn("artifacts", self.result)
        with self.db() as db:
            (n,) = db.execute("SELECT count(*) FROM artifacts WHERE run_id = ?", (self.run_id,)).fetchone()
        self.assertEqual(n, 0)


RESUME_FLOW = """name: resume
params: { marker: /nonexistent }
steps:
  prepare: { kind: exec, with: { argv: [/bin/echo, prepared] } }
  nap: { kind: sleep, needs: [prepare], with: { duration: 10ms } }
  cluster: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 1 } }
  gate: { kind: exec, needs: [nap, cluster], with: { argv: [test, -f, "${{ params.marker }}"] } }
  after: { kind: exec, needs: [gate], with: { argv: [/bin/echo, "${{ steps.prepare.outputs.stdout }}"] } }
finally:
  tidy: { kind: sleep, with: { duration: 1ms } }
"""


class FromFailureTest(unittest.TestCase):
    """A flow whose exec step fails unless a file exists: run (fail), create the file, resume."""

    def test_resumes_from_the_failed_step_reusing_what_succeeded(self):
        with TempDir() as d:
            data = os.path.join(d, "data")
            marker = os.path.join(d, "marker")
            flow = write_flow(d, "resume.yaml", RESUME_FLOW)
            first_json = os.path.join(d, "first.json")
            first = run_drone("run", flow, "-p", "marker=" + marker, "--data-dir", data, "--json",
                              first_json, timeout=120)
            self.assertNotEqual(first.returncode, 0)
            first_result = load_json(first_json)
            status = {s["id"]: s["status"] for s in first_result["steps"]}
            self.assertEqual(status["gate"], "failed")
            self.assertEqual(status["prepare"], "succeeded")

            # The flow file changes afterwards: the resumed run uses the stored text.
            write_flow(d, "resume.yaml", "name: changed\n")
            with open(marker, "w"):
                pass
            second_json = os.path.join(d, "second.json")
            second = run_drone("run", "--from-failure", first_result["run_id"], "--data-dir", data,
                               "--json", second_json, timeout=120)
            self.assertEqual(second.returncode, 0, second.stderr)
            result = load_json(second_json)
            shown = run_drone("runs", "show", result["run_id"], "--data-dir", data, timeout=30)
            self.assertIn("resumed  from the failure of run " + first_result["run_id"], shown.stdout)
            self.assertRegex(shown.stdout, r"reused +prepare \(exec\)")
            self.assertRegex(shown.stdout, r"succeeded +gate \(exec\)")

        steps = {s["id"]: s for s in result["steps"]}
        self.assertEqual(result["verdict"], "pass")
        self.assertEqual(result["flow"], "resume")
        self.assertEqual(result["params"]["marker"], marker)
        self.assertEqual(result["from_failure"]["run_id"], first_result["run_id"])
        # exec and sleep steps that succeeded are reused with their stored outputs...
        reused = sorted(i for i, s in steps.items() if s.get("reused"))
        self.assertEqual(reused, ["nap", "prepare"])
        first_outputs = {s["id"]: s["outputs"] for s in first_result["steps"]}
        self.assertEqual(steps["prepare"]["outputs"], first_outputs["prepare"])
        self.assertEqual(steps["nap"]["outputs"], first_outputs["nap"])
        # ... and given to the steps that need them.
        self.assertEqual(steps["after"]["outputs"]["stdout"], "prepared")
        # The cluster was torn down, so it runs again, and so do the failed step and what follows.
        self.assertEqual(result["from_failure"]["rerun"], ["cluster", "gate", "after"])
        events = [(e["type"], e.get("step")) for e in result["events"]]
        self.assertEqual(sorted(s for t, s in events if t == "STEP_REUSED"), ["nap", "prepare"])
        started = {s for t, s in events if t == "STEP_START"}
        self.assertEqual(started, {"cluster", "gate", "after", "tidy"})
        for step in ("cluster", "gate", "after"):
            self.assertEqual(steps[step]["status"], "succeeded")
            self.assertNotIn("reused", steps[step])

    def test_refuses_what_it_cannot_resume(self):
        with TempDir() as d:
            data = os.path.join(d, "data")
            ok_json = os.path.join(d, "ok.json")
            flow = write_flow(d, "ok.yaml", "name: ok\nsteps:\n  s: { kind: sleep, with: { duration: 1ms } }\n")
            self.assertEqual(run_drone("run", flow, "--data-dir", data, "--json", ok_json, timeout=60).returncode, 0)
            passed = run_drone("run", "--from-failure", load_json(ok_json)["run_id"], "--data-dir", data, timeout=30)
            self.assertEqual(passed.returncode, 2)
            self.assertIn("no failed, skipped or cancelled step", passed.stderr)
            missing = run_drone("run", "--from-failure", "no-such-run", "--data-dir", data, timeout=30)
            self.assertEqual(missing.returncode, 2)
            self.assertIn("no-such-run", missing.stderr)
            both = run_drone("run", flow, "--from-failure", "x", "--data-dir", data, timeout=30)
            self.assertEqual(both.returncode, 2)
            empty = run_drone("run", "--from-failure", "x", "--data-dir", os.path.join(d, "none"), timeout=30)
            self.assertEqual(empty.returncode, 2)
            self.assertFalse(os.path.exists(os.path.join(d, "none")))


if __name__ == "__main__":
    unittest.main()
