"""The command line: help, plugins, validate, exit codes, interruption, and a cross-check with kcat."""
import json
import os
import shutil
import signal
import subprocess
import threading
import unittest

from drone_test_support import DRONE, FLOWS, TempDir, load_json, run_drone, write_flow

SMALL_FLOW = """name: small
params: { messages: 2000 }
steps:
  cluster: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 3 } }
  topic: { kind: topic, needs: [cluster], with: { name: t, partitions: 3, replication: 3 } }
  load:
    kind: workload
    needs: [topic]
    with: { topic: t, producers: 1, consumers: 1, rate: 2000, messages: "${{ params.messages }}", size: 100 }
  verify:
    kind: check
    needs: [load]
    with: { expect: { lost: 0, sent: "< 10" } }
"""


class CliTest(unittest.TestCase):
    def test_help_names_the_subcommands(self):
        r = run_drone("--help", timeout=30)
        self.assertEqual(r.returncode, 0)
        for word in ("run", "validate", "plugins", "embedded-kafka"):
            self.assertIn(word, r.stdout)
        r = run_drone("run", "--help", timeout=30)
        self.assertIn("Exit codes", r.stdout)

    def test_plugins_lists_builtins(self):
        r = run_drone("plugins", "--json", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        plugins = json.loads(r.stdout)
        self.assertIn("kafka", plugins["drivers"])
        self.assertIn("embedded", plugins["platforms"])
        for kind in ("cluster", "topic", "workload", "fault.kill", "fault.network", "check"):
            self.assertIn(kind, plugins["step_kinds"])

    def test_validate_prints_the_dag(self):
        r = run_drone("validate", os.path.join(FLOWS, "quickstart.yaml"), timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("outage (fault.kill) <- load.started", r.stdout)
        r = run_drone("validate", "--json", os.path.join(FLOWS, "quickstart.yaml"), timeout=30)
        steps = json.loads(r.stdout)["steps"]
        self.assertEqual([s["id"] for s in steps], ["cluster", "topic", "load", "outage", "verify"])

    def test_every_example_flow_validates(self):
        for name in sorted(os.listdir(FLOWS)):
            if name.endswith(".yaml"):
                r = run_drone("validate", os.path.join(FLOWS, name), timeout=30)
                self.assertEqual(r.returncode, 0, name + ": " + r.stderr)

    def test_failed_check_exits_one(self):
        with TempDir() as d:
            path = write_flow(d, "small.yaml", SMALL_FLOW)
            out = os.path.join(d, "r.json")
            r = run_drone("run", path, "--json", out)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            result = load_json(out)
            self.assertEqual(result["verdict"], "fail")
            checks = {c["expect"]: c for c in result["checks"]}
            self.assertTrue(checks["lost == 0"]["passed"])
            self.assertFalse(checks["sent < 10"]["passed"])
            self.assertEqual(checks["sent < 10"]["observed"], 2000)
            self.assertIn("FAIL", r.stdout)

    def test_runs_are_stored_listed_shown_and_removed(self):
        with TempDir() as d:
            flow = write_flow(d, "small.yaml", SMALL_FLOW.replace('sent: "< 10"', 'sent: 300'))
            out = os.path.join(d, "r.json")
            data = os.path.join(d, "data")
            r = run_drone("run", flow, "--json", out, "--data-dir", data, "-p", "messages=300")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            run_id = load_json(out)["run_id"]
            self.assertIn("drone runs show " + run_id, r.stdout)
            listed = json.loads(run_drone("runs", "list", "--json", "--data-dir", data, timeout=30).stdout)
            self.assertEqual([x["run_id"] for x in listed], [run_id])
            self.assertEqual(listed[0]["verdict"], "pass")
            shown = run_drone("runs", "show", run_id, "--json", "--data-dir", data, timeout=30)
            self.assertEqual(json.loads(shown.stdout), load_json(out))
            self.assertEqual(run_drone("runs", "rm", run_id, "--data-dir", data, timeout=30).returncode, 0)
            missing = run_drone("runs", "show", run_id, "--data-dir", data, timeout=30)
            self.assertEqual(missing.returncode, 2)
            self.assertIn(run_id, missing.stderr)
            r = run_drone("run", flow, "--no-store", "--data-dir", os.path.join(d, "other"), "-p", "messages=300")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertFalse(os.path.exists(os.path.join(d, "other")))

    def test_sigint_stops_heals_and_tears_down(self):
        with TempDir() as d:
            out = os.path.join(d, "r.json")
            proc = subprocess.Popen([DRONE, "run", os.path.join(FLOWS, "quickstart.yaml"), "--json", out],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            watchdog = threading.Timer(180, proc.kill)
            watchdog.start()
            try:
                for line in proc.stderr:
                    if "FAULT_INJECTED" in line:
                        proc.send_signal(signal.SIGINT)
                        break
                proc.communicate(timeout=120)
            finally:
                watchdog.cancel()
            self.assertEqual(proc.returncode, 3)
            result = load_json(out)
            self.assertEqual(result["verdict"], "unknown")
            self.assertTrue(result["reasons"][0].startswith("interrupted by SIGINT"), result["reasons"])
            types = [e["type"] for e in result["events"]]
            self.assertIn("FAULT_HEALED", types)
            undo = [e["message"] for e in result["events"] if e["type"] == "UNDO"]
            self.assertTrue(any(m.startswith("stop cluster cluster") for m in undo), undo)
            self.assertIsNotNone(result["faults"][0]["end"])

    def test_a_broken_pipe_does_not_kill_drone(self):
        # A broker killed mid-write leaves its clients' sockets broken; hiredis writes without
        # MSG_NOSIGNAL, so Drone must ignore SIGPIPE or die with the broker (exit 141, no result).
        with TempDir() as d:
            flow = write_flow(d, "nap.yaml", "name: nap\nsteps:\n  nap: { kind: sleep, with: { duration: 60s } }\n")
            proc = subprocess.Popen([DRONE, "run", flow, "--no-store"], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            watchdog = threading.Timer(120, proc.kill)
            watchdog.start()
            try:
                for line in proc.stderr:
                    if line.startswith("drone: running"):
                        break
                with open(f"/proc/{proc.pid}/status") as f:
                    ignored = next(int(l.split()[1], 16) for l in f if l.startswith("SigIgn:"))
                proc.send_signal(signal.SIGINT)
                proc.communicate(timeout=60)
            finally:
                watchdog.cancel()
            self.assertEqual(proc.returncode, 3)
            self.assertTrue(ignored & (1 << (signal.SIGPIPE - 1)), hex(ignored))

    @unittest.skipUnless(shutil.which("kcat"), "kcat not installed (scripts/setup.sh installs it)")
    def test_kcat_counts_what_drone_produced(self):
        server = subprocess.Popen([DRONE, "embedded-kafka", "--brokers", "3", "--topic", "xc:3:3"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        try:
            bootstrap = server.stdout.readline().strip()
            self.assertIn("127.0.0.1:", bootstrap)
            with TempDir() as d:
                out = os.path.join(d, "r.json")
                r = run_drone("run", os.path.join(FLOWS, "external-produce.yaml"), "--json", out,
                              "-p", "bootstrap=" + bootstrap, "-p", "topic=xc", "-p", "messages=5000")
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                w = load_json(out)["workloads"]["load"]
                self.assertEqual(w["acked"], 5000)
            kcat = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", "xc", "-e", "-q", "-f", "%p\n"],
                                  capture_output=True, text=True, timeout=120)
            self.assertEqual(kcat.returncode, 0, kcat.stderr)
            lines = kcat.stdout.split()
            self.assertEqual(len(lines), 5000)
            self.assertEqual(set(lines), {"0", "1", "2"})
        finally:
            server.send_signal(signal.SIGTERM)
            self.assertEqual(server.wait(timeout=60), 0)


if __name__ == "__main__":
    unittest.main()
