"""flows/matrix-sizes.yaml and `matrix:` in general: every combination is run and stored, the table
and the JSON have real numbers for each, acks=0 loses what acks=all keeps, -p fixes an axis,
Ctrl-C stops the matrix with teardown, and the exit code is the worst of the runs."""
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import threading
import unittest

from drone_test_support import DRONE, FLOWS, TempDir, load_json, run_drone, validate_result, write_flow

MATRIX_FLOW = os.path.join(FLOWS, "matrix-sizes.yaml")
SIZES = ["100", "10KiB"]
ACKS = ["0", "all"]


class MatrixSizesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        d = cls.tmp.__enter__()
        cls.data_dir = os.path.join(d, "data")
        cls.json_path = os.path.join(d, "matrix.json")
        cls.proc = run_drone("run", MATRIX_FLOW, "--json", cls.json_path, "--data-dir", cls.data_dir,
                             timeout=300)
        cls.doc = load_json(cls.json_path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.__exit__(None, None, None)

    def entry(self, size, acks):
        return next(e for e in self.doc["matrix"] if e["params"] == {"size": size, "acks": acks})

    def test_every_combination_ran_and_passed(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stdout + self.proc.stderr)
        self.assertEqual(sorted((e["params"]["size"], e["params"]["acks"]) for e in self.doc["matrix"]),
                         sorted(itertools.product(SIZES, ACKS)))
        for e in self.doc["matrix"]:
            with self.subTest(params=e["params"]):
                result = e["result"]
                validate_result(result)
                self.assertEqual(result["verdict"], "pass")
                self.assertEqual(result["params"]["size"], e["params"]["size"])
                self.assertEqual(result["params"]["acks"], e["params"]["acks"])
                self.assertEqual(result["matrix"]["id"], self.doc["matrix_id"])
                w = result["workloads"]["load"]
                self.assertGreater(w["sent"], 1000)
                self.assertGreater(w["received"], 1000)
                self.assertGreater(w["throughput"]["sent_per_s"], 100)
                self.assertGreater(w["latency_ms"]["end_to_end"]["p50"], 0)
                self.assertLessEqual(w["latency_ms"]["end_to_end"]["p50"], w["latency_ms"]["end_to_end"]["p99"])
                self.assertEqual(len(result["faults"]), 1)

    def test_each_run_sends_its_own_message_size(self):
        for acks in ACKS:
            small = self.entry("100", acks)["result"]["workloads"]["load"]
            large = self.entry("10KiB", acks)["result"]["workloads"]["load"]
            # Same rate, 100x the bytes.
            self.assertGreater(large["throughput"]["mb_per_s"], 50 * small["throughput"]["mb_per_s"])

    def test_acks_0_loses_acknowledged_messages_and_acks_all_does_not(self):
        for size in SIZES:
            with self.subTest(size=size):
                zero = self.entry(size, "0")["result"]["workloads"]["load"]
                every = self.entry(size, "all")["result"]["workloads"]["load"]
                self.assertGreater(zero["delivery"]["lost"], 0)
                self.assertEqual(zero["delivery"]["unseen"], 0)
                self.assertEqual(every["delivery"]["lost"], 0)
                self.assertEqual(every["delivery"]["unseen"], 0)
                self.assertGreaterEqual(every["received"], every["acked"])
                self.assertLess(zero["received"], zero["acked"])

    def test_the_table_has_a_row_per_combination_with_the_json_numbers(self):
        lines = self.proc.stdout.splitlines()
        header = next(i for i, l in enumerate(lines) if l.split()[:3] == ["size", "acks", "verdict"])
        rows = [l.split() for l in lines[header + 1:header + 5]]
        self.assertEqual(len(rows), 4)
        for row in rows:
            size, acks, verdict = row[:3]
            w = self.entry(size, acks)["result"]["workloads"]["load"]
            self.assertEqual(verdict, "pass")
            self.assertAlmostEqual(float(row[3]), w["throughput"]["sent_per_s"], delta=0.06)
            self.assertAlmostEqual(float(row[4]), w["throughput"]["received_per_s"], delta=0.06)
            self.assertAlmostEqual(float(row[6]), w["latency_ms"]["end_to_end"]["p99"], delta=0.006)
            self.assertEqual(int(row[7]), w["delivery"]["lost"])
            self.assertEqual(int(row[8]), w["delivery"]["duplicated"])

    def test_every_run_is_stored_with_the_matrix_id(self):
        with sqlite3.connect(os.path.join(self.data_dir, "runs.db")) as db:
            rows = db.execute("SELECT run_id, flow_text FROM runs WHERE matrix_id = ?",
                              (self.doc["matrix_id"],)).fetchall()
        self.assertEqual(sorted(r for r, _ in rows), sorted(e["result"]["run_id"] for e in self.doc["matrix"]))
        with open(MATRIX_FLOW) as f:
            text = f.read()
        self.assertEqual([t for _, t in rows], [text] * 4)
        self.assertIn("drone runs list --matrix " + self.doc["matrix_id"], self.proc.stdout)
        r = run_drone("runs", "list", "--matrix", self.doc["matrix_id"], "--json", "--data-dir",
                      self.data_dir, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(x["run_id"] for x in json.loads(r.stdout)), sorted(r for r, _ in rows))
        r = run_drone("runs", "list", "--matrix", "m-none", "--json", "--data-dir", self.data_dir, timeout=30)
        self.assertEqual(json.loads(r.stdout), [])


class MatrixCommandTest(unittest.TestCase):
    def test_validate_lists_the_combinations_and_dash_p_fixes_an_axis(self):
        r = run_drone("validate", MATRIX_FLOW, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("matrix: 4 combinations", r.stdout)
        for size, acks in itertools.product(SIZES, ACKS):
            self.assertIn("size=%s acks=%s" % (size, acks), r.stdout)
        r = run_drone("validate", MATRIX_FLOW, "-p", "acks=all", timeout=30)
        self.assertIn("matrix: 2 combinations", r.stdout)
        self.assertNotIn("acks=0", r.stdout)
        r = run_drone("validate", MATRIX_FLOW, "-p", "size=100", "--json", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["matrix"],
                         [{"params": {"size": "100", "acks": a}, "valid": True} for a in ACKS])

    def test_a_combination_that_does_not_validate_starts_nothing(self):
        with open(MATRIX_FLOW) as f:
            text = f.read().replace("size: [100, 10KiB]", "size: [100, 10]")
        with TempDir() as d:
            r = run_drone("run", write_flow(d, "bad.yaml", text), "--data-dir", os.path.join(d, "data"),
                          timeout=30)
            self.assertEqual(r.returncode, 2, r.stdout)
            self.assertIn("matrix combination size=10 acks=0", r.stderr)
            self.assertIn("nothing was started", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(d, "data")))

    def test_exit_code_is_the_worst_of_the_runs(self):
        flow = """name: worst
params: { want: 0 }
matrix: { want: [0, 1] }
steps:
  run: { kind: exec, with: { argv: [/bin/true], expect_exit: "${{ params.want }}" } }
"""
        with TempDir() as d:
            out = os.path.join(d, "m.json")
            r = run_drone("run", write_flow(d, "worst.yaml", flow), "--no-store", "--json", out, timeout=60)
            doc = load_json(out)
        codes = [e["result"]["exit_code"] for e in doc["matrix"]]
        self.assertEqual(codes[0], 0)
        self.assertNotEqual(codes[1], 0)
        self.assertEqual(r.returncode, codes[1])
        self.assertEqual(doc["exit_code"], codes[1])

    def test_sigint_stops_the_matrix_and_tears_down(self):
        with TempDir() as d:
            out = os.path.join(d, "m.json")
            proc = subprocess.Popen([DRONE, "run", MATRIX_FLOW, "-p", "duration=60s", "--json", out,
                                     "--data-dir", os.path.join(d, "data")],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            watchdog = threading.Timer(120, proc.kill)
            watchdog.start()
            try:
                for line in proc.stderr:
                    if "FAULT_INJECTED" in line:  # within the first run, under load
                        proc.send_signal(signal.SIGINT)
                        break
                stdout, _ = proc.communicate(timeout=90)
            finally:
                watchdog.cancel()
            self.assertEqual(proc.returncode, 3)
            doc = load_json(out)
        self.assertEqual(len(doc["matrix"]), 4)
        first = doc["matrix"][0]["result"]
        self.assertTrue(first["reasons"][0].startswith("interrupted by SIGINT"), first["reasons"])
        undo = [e["message"] for e in first["events"] if e["type"] == "UNDO"]
        self.assertTrue(any(m.startswith("stop cluster cluster") for m in undo), undo)
        self.assertIsNotNone(first["faults"][0]["end"])
        self.assertEqual([e["result"] for e in doc["matrix"][1:]], [None, None, None])
        self.assertEqual(stdout.count("not run"), 3)


if __name__ == "__main__":
    unittest.main()
