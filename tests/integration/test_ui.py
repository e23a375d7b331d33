"""`drone ui` as a user starts it: access rules, starting a flow over the API and following it
over Server-Sent Events to its stored result, and runs that stop with the server."""
import json
import os
import shutil
import signal
import sqlite3
import sys
import time
import unittest
import urllib.error
import urllib.request

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's python3-prometheus-client (scripts/setup.sh), from an interpreter not Debian's own.
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

from drone_test_support import TempDir, alive, run_drone, write_flow
from ui_support import UiServer, processes_with

SMALL_FLOW = """name: ui-small
description: One embedded broker and a short load.
params:
  messages: 400
steps:
  cluster: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 1 } }
  topic: { kind: topic, needs: [cluster], with: { name: t, partitions: 1 } }
  load:
    kind: workload
    needs: [topic]
    with: { topic: t, messages: "${{ params.messages }}", rate: 200, size: 100 }
  verify: { kind: check, needs: [load], with: { expect: { lost: 0 } } }
"""

LONG_FLOW = """name: ui-long
steps:
  cluster: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 1 } }
  topic: { kind: topic, needs: [cluster], with: { name: t, partitions: 1 } }
  load: { kind: workload, needs: [topic], with: { topic: t, rate: 100, duration: 10m } }
"""

HELD_NATS_FLOW = """name: ui-held
steps:
  cluster: { kind: cluster, with: { broker: nats, platform: local, nodes: 1 } }
  hold: { kind: sleep, needs: [cluster], with: { duration: 10m } }
"""


class UiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = TempDir()
        cls.dir = cls._tmp.__enter__()
        cls.data_dir = os.path.join(cls.dir, "data")
        cls.flows = os.path.join(cls.dir, "flows")
        os.makedirs(cls.flows)
        write_flow(cls.flows, "small.yaml", SMALL_FLOW)
        write_flow(cls.flows, "long.yaml", LONG_FLOW)
        write_flow(cls.flows, "held.yaml", HELD_NATS_FLOW)
        cls.ui = UiServer(cls.data_dir, cls.flows)

    @classmethod
    def tearDownClass(cls):
        cls.ui.stop()
        cls._tmp.__exit__(None, None, None)

    def test_a_non_loopback_host_needs_a_token(self):
        r = run_drone("ui", "--host", "0.0.0.0", "--port", "0", "--data-dir", self.data_dir,
                      "--flows", self.flows, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--token", r.stderr)
        self.assertIn("nothing was started", r.stderr)

    def test_the_token_is_checked_on_every_request(self):
        ui = UiServer(self.data_dir, self.flows, "--token", "t0ken")
        try:
            with self.assertRaises(urllib.error.HTTPError) as refused:
                ui.get("/api/runs")
            self.assertEqual(refused.exception.code, 401)
            self.assertIn("runs", ui.get("/api/runs", {"Authorization": "Bearer t0ken"}))
        finally:
            code, _ = ui.stop()
        self.assertEqual(code, 0)

    def test_a_flow_started_over_the_api_streams_to_its_stored_result(self):
        status, started = self.ui.post("/api/runs", {"flow": "small", "params": {"messages": 300}})
        self.assertEqual(status, 202)
        run_id = started["run_id"]
        messages = self.ui.stream_until_end(run_id)
        events = [d["type"] for e, d in messages if e == "event"]
        points = [d for e, d in messages if e == "point"]
        self.assertEqual(events[0], "RUN_START")
        self.assertIn("CHECK_PASSED", events)
        self.assertEqual(events[-1], "RUN_END")
        self.assertTrue(points, "no series point arrived while the run went on")
        self.assertEqual(points[0]["workload"], "load")
        self.assertEqual(messages[-1], ("end", {"run_id": run_id, "verdict": "pass", "exit_code": 0}))
        result = self.ui.get("/api/runs/" + run_id)
        self.assertEqual(result["run_id"], run_id)  # the id the server handed out
        self.assertEqual(result["params"]["messages"], "300")
        self.assertEqual(result["workloads"]["load"]["sent"], 300)
        shown = run_drone("runs", "show", run_id, "--json", "--data-dir", self.data_dir)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertEqual(json.loads(shown.stdout), result)
        listed = self.ui.get("/api/runs?flow=ui-small")
        self.assertIn(run_id, [r["run_id"] for r in listed["runs"]])
        with sqlite3.connect(os.path.join(self.data_dir, "runs.db")) as db:
            left = db.execute("SELECT count(*) FROM live_events WHERE run_id = ?", (run_id,)).fetchone()
        self.assertEqual(left[0], 0, "the live rows outlived the stored run")

    def test_bad_params_start_nothing(self):
        with self.assertRaises(urllib.error.HTTPError) as refused:
            self.ui.post("/api/runs", {"flow": "small", "params": {"messages": "many"}})
        self.assertEqual(refused.exception.code, 400)
        body = json.loads(refused.exception.read())
        self.assertTrue(any(e["line"] > 0 for e in body["errors"]), body)

    def test_runs_stop_with_the_server(self):
        ui = UiServer(self.data_dir, self.flows)
        try:
            _, started = ui.post("/api/runs", {"flow": "long"})
            run_id = started["run_id"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if ui.get("/api/runs/" + run_id).get("verdict") == "running":
                    break
                time.sleep(0.1)
            self.assertTrue(processes_with("--run-id\0" + run_id), "the run is not running")
            # The run's own metrics are scraped through the UI port, as one valid exposition.
            sent = None
            while time.monotonic() < deadline and not sent:
                with urllib.request.urlopen(ui.url + "/metrics", timeout=30) as res:
                    families = list(text_string_to_metric_families(res.read().decode()))
                sent = [s.value for f in families for s in f.samples
                        if s.name == "drone_messages_sent_total" and s.labels.get("run_id") == run_id
                        and s.value > 0]
                time.sleep(0.2)
            self.assertTrue(sent, "no drone_messages_sent_total of the run on the UI's /metrics")
            names = {f.name for f in families}
            self.assertIn("drone_ui_runs_running", names)
            self.assertIn("drone_end_to_end_latency_seconds", names)
        finally:
            code, stderr = ui.stop()
        self.assertEqual(code, 0, stderr)
        self.assertEqual(processes_with("--run-id\0" + run_id), [], "the run outlived the server")
        # Stopped by the server, the run still tore down and was stored as interrupted.
        shown = run_drone("runs", "show", run_id, "--json", "--data-dir", self.data_dir)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertEqual(json.loads(shown.stdout)["exit_code"], 3)

    @unittest.skipUnless(shutil.which("nats-server"), "nats-server is not installed (make setup)")
    def test_a_killed_run_leaves_nothing_behind(self):
        _, started = self.ui.post("/api/runs", {"flow": "held"})
        run_id = started["run_id"]
        journal = os.path.join(self.data_dir, "journal", run_id + ".jsonl")
        deadline = time.monotonic() + 60
        paths = []
        while time.monotonic() < deadline and not paths:
            if os.path.exists(journal):
                with open(journal) as f:
                    lines = [json.loads(line) for line in f if line.strip()]
                paths = [l["args"]["path"] for l in lines if l.get("kind") == "path"]
            if not paths:
                time.sleep(0.1)
        self.assertTrue(paths, "the run journaled no run directory")
        while time.monotonic() < deadline and not all(os.path.isdir(p) for p in paths):
            time.sleep(0.1)
        self.assertTrue(all(os.path.isdir(p) for p in paths), paths)
        runs = processes_with("--run-id\0" + run_id)
        self.assertEqual(len(runs), 1, runs)
        # As a run still tearing down when the server's grace period ends is.
        os.kill(runs[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (os.path.exists(journal) or any(os.path.exists(p) for p in paths)):
            time.sleep(0.1)
        self.assertFalse([p for p in paths if os.path.exists(p)], "the killed run's directory is left")
        self.assertFalse(os.path.exists(journal), "the killed run's journal is left")
        self.assertFalse([p for p in runs if alive(p)])


if __name__ == "__main__":
    unittest.main()
