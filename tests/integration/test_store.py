"""The run store as `drone run` fills it and `drone runs show` reads it: histograms per workload and
measurement, the flow text, and every event the run emitted."""
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


if __name__ == "__main__":
    unittest.main()
