"""Distributed workloads (docs/workers.md): the same flow with and without `--workers 2` must
give the same verdict and the same accounting; `drone worker` itself; Ctrl-C mid-run leaves no
worker process behind.

What must be equal between a single-process run and a run on workers, and why:
- the verdict and every check's outcome;
- `sent`: producers are open loop, so a run of D seconds at R msg/s sends exactly R x D messages
  wherever its producers run;
- the identities sent == acked + failed + indeterminate, and every sent message in exactly one
  delivery category, in both runs;
- on the NATS flow (no fault) everything is deterministic: acked == received == ok == sent, no
  lost, duplicated or unexpected message;
- on the quickstart (a broker killed for 8 s; idempotent producers, acks=all) acked == sent and
  lost == unseen == failed == 0 in both; redeliveries around the failover may differ, so
  duplicates are compared through ok + duplicated == acked, not one by one.
"""
import glob
import os
import re
import selectors
import shutil
import signal
import subprocess
import time
import unittest
import urllib.request

from drone_test_support import DRONE, FLOWS, TempDir, load_json, run_drone, validate_result, write_flow

HAVE_NATS = shutil.which("nats-server") is not None

NATS_FLOW = """
name: nats-steady
description: NATS JetStream, an R3 stream, steady load and no fault
params: { rate: 1000, duration: 4s }
steps:
  cluster: { kind: cluster, with: { broker: nats, platform: local, nodes: 3 } }
  topic: { kind: topic, needs: [cluster], with: { name: orders, partitions: 1, replication: 3 } }
  load:
    kind: workload
    needs: [topic]
    with:
      topic: orders
      producers: 2
      consumers: 2
      rate: "${{ params.rate }}"
      size: 256
      duration: "${{ params.duration }}"
      acks: all
      delivery: at-least-once
      drain_timeout: 30s
  verify: { kind: check, needs: [load], with: { expect: { lost: 0, unseen: 0 } } }
"""

CATEGORIES = ("ok", "recovered", "unknown", "failed", "phantom", "lost", "unseen", "duplicated")


def process_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except FileNotFoundError:
        return False


def wait_until(condition, timeout):
    """Polls `condition` until it holds or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.05)


def run_pair(test, flow, params, d):
    """Runs `flow` in one process and on two workers; returns (single, distributed) results."""
    results = []
    for name, extra in (("single", []), ("workers", ["--workers", "2"])):
        path = os.path.join(d, name + ".json")
        proc = run_drone("run", flow, *params, "--json", path, "--no-store", *extra)
        test.assertIn(proc.returncode, (0, 1), proc.stdout + proc.stderr)
        if extra:
            test.assertIn("workloads run on 2 workers", proc.stderr)
        result = load_json(path)
        validate_result(result)
        results.append(result)
    return results


class AccountingAssertions:
    def assert_identities(self, w):
        self.assertEqual(w["acked"] + w["failed"] + w["indeterminate"], w["sent"])
        d = w["delivery"]
        self.assertEqual(sum(d[c] for c in CATEGORIES) + d["unacked_received"], w["sent"])
        self.assertEqual(sum(p["sent"] for p in w["series"]), w["sent"])

    def assert_same_verdict_and_checks(self, single, distributed):
        self.assertEqual(single["verdict"], distributed["verdict"])
        self.assertEqual([(c["expect"], c["passed"]) for c in single["checks"]],
                         [(c["expect"], c["passed"]) for c in distributed["checks"]])


class QuickstartOnWorkersTest(unittest.TestCase, AccountingAssertions):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        d = cls.tmp.__enter__()
        cls.single, cls.distributed = run_pair(
            cls(), os.path.join(FLOWS, "quickstart.yaml"), ["-p", "duration=8s"], d)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.__exit__(None, None, None)

    def test_same_verdict_and_checks(self):
        self.assertEqual(self.single["verdict"], "pass")
        self.assert_same_verdict_and_checks(self.single, self.distributed)

    def test_same_accounting(self):
        s = self.single["workloads"]["load"]
        w = self.distributed["workloads"]["load"]
        for r in (s, w):
            self.assert_identities(r)
            self.assertEqual(r["sent"], 16000, "2000 msg/s for 8 s, open loop")
            self.assertEqual(r["acked"], r["sent"])
            for category in ("lost", "unseen", "failed", "unexpected", "corrupt"):
                self.assertEqual(r["delivery"][category], 0, category)
            self.assertEqual(r["delivery"]["ok"] + r["delivery"]["duplicated"], r["acked"])
            self.assertTrue(r["drain"]["caught_up"])
            self.assertEqual(r["lanes"], 6)
        for key in ("sent", "acked", "failed", "indeterminate"):
            self.assertEqual(s[key], w[key], key)

    def test_latency_histograms_cover_every_message(self):
        w = self.distributed["workloads"]["load"]
        self.assertEqual(w["latency_ms"]["publish"]["count"], w["acked"])
        self.assertEqual(w["latency_ms"]["end_to_end"]["count"],
                         w["received"] - w["delivery"]["unexpected"])


@unittest.skipUnless(HAVE_NATS, "nats-server is not installed (apt-get install nats-server)")
class NatsOnWorkersTest(unittest.TestCase, AccountingAssertions):
    def test_same_verdict_and_exactly_the_same_accounting(self):
        with TempDir() as d:
            flow = write_flow(d, "nats-steady.yaml", NATS_FLOW)
            single, distributed = run_pair(self, flow, [], d)
        self.assert_same_verdict_and_checks(single, distributed)
        self.assertEqual(single["verdict"], "pass")
        s = single["workloads"]["load"]
        w = distributed["workloads"]["load"]
        for r in (s, w):
            self.assert_identities(r)
            self.assertEqual(r["sent"], 4000)
        for key in ("sent", "acked", "failed", "indeterminate", "received"):
            self.assertEqual(s[key], w[key], key)
        for category in CATEGORIES + ("unexpected", "corrupt", "reordered"):
            self.assertEqual(s["delivery"][category], w["delivery"][category], category)
        self.assertEqual(w["delivery"]["ok"], 4000)


@unittest.skipUnless(HAVE_NATS and os.geteuid() == 0, "needs nats-server and root (a lab network)")
class LabOnWorkersTest(unittest.TestCase, AccountingAssertions):
    """A cluster in a lab network: `--workers 2` starts two more workers inside the lab's clients
    host. They reach the brokers only from there (10.213.0.x is not routed from this namespace),
    and the flow's 100 ms fault between the clients and the brokers shows in their latencies."""

    def test_the_workers_run_in_the_clients_host_and_feel_its_fault(self):
        with TempDir() as d:
            out = os.path.join(d, "result.json")
            r = run_drone("-v", "run", os.path.join(FLOWS, "netfault-latency.yaml"), "--workers", "2",
                          "--json", out, "--no-store", env=dict(os.environ, TMPDIR=d), timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr[-4000:])
            match = re.search(r"workload load: 2 workers in the lab's clients host \S+ \(pids ([\d ]+)\)",
                              r.stderr)
            self.assertIsNotNone(match, r.stderr[-4000:])
            result = load_json(out)
        validate_result(result)
        self.assertEqual(result["verdict"], "pass")
        w = result["workloads"]["load"]
        self.assert_identities(w)
        self.assertEqual(w["delivery"]["lost"], 0)
        phase = w["phases"][0]
        self.assertGreater(phase["during"]["latency_ms"]["end_to_end"]["p50"],
                           phase["before"]["latency_ms"]["end_to_end"]["p50"] + 80)
        for pid in match.group(1).split():
            self.assertFalse(process_alive(int(pid)), "worker %s outlived the run" % pid)


class WorkerCommandTest(unittest.TestCase):
    def test_non_loopback_address_needs_a_token(self):
        proc = run_drone("worker", "--listen", "0.0.0.0:0", timeout=30, env={"PATH": os.environ["PATH"]})
        self.assertEqual(proc.returncode, 2)
        self.assertIn("not a loopback address", proc.stderr)
        self.assertIn("--token", proc.stderr)

    def test_serves_health_and_stops_on_sigterm(self):
        with TempDir() as d:
            port_file = os.path.join(d, "port")
            proc = subprocess.Popen([DRONE, "worker", "--listen", "127.0.0.1:0", "--port-file", port_file],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    stdin=subprocess.DEVNULL)
            try:
                self.assertTrue(wait_until(lambda: os.path.exists(port_file), 15), "no port file")
                with open(port_file) as f:
                    port = int(f.read())
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=5) as r:
                    self.assertIn(b'"drone_worker":true', r.read())
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(timeout=30), 0)
                self.assertEqual(proc.stdout.readline().strip(), f"http://127.0.0.1:{port}")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
                proc.stderr.close()

    def test_unreachable_workers_at_is_bad_input(self):
        proc = run_drone("run", os.path.join(FLOWS, "quickstart.yaml"), "--workers-at",
                         "http://127.0.0.1:1", "--no-store", timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("no worker answers at http://127.0.0.1:1", proc.stderr)
        self.assertIn("nothing was started", proc.stderr)

    def test_history_with_workers_is_bad_input(self):
        with TempDir() as d:
            proc = run_drone("run", os.path.join(FLOWS, "quickstart.yaml"), "--workers", "2",
                             "--history", os.path.join(d, "h.jsonl"), "--no-store", timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("--history", proc.stderr)


class InterruptTest(unittest.TestCase):
    def start_on_workers(self, tmp, *args):
        """Starts the quickstart on 2 local workers with TMPDIR=tmp and reads its log until the
        outage is injected: (proc, worker pids, log so far). The caller stops the process."""
        proc = subprocess.Popen([DRONE, "run", os.path.join(FLOWS, "quickstart.yaml"), "-p", "duration=60s",
                                 "--workers", "2", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL, env=dict(os.environ, TMPDIR=tmp))
        pids = []
        seen = ""
        try:
            sel = selectors.DefaultSelector()
            sel.register(proc.stderr, selectors.EVENT_READ)
            deadline = time.monotonic() + 60
            # Wait until the load runs on the workers: the outage comes 5 s after it started.
            while time.monotonic() < deadline and "FAULT_INJECTED" not in seen:
                if sel.select(timeout=1):
                    line = proc.stderr.readline()
                    if not line:
                        break
                    seen += line
                    if "workloads run on 2 workers (pids" in line:
                        pids = [int(p) for p in line.split("(pids", 1)[1].strip(" )\n").split()]
            self.assertEqual(len(pids), 2, seen)
            self.assertIn("FAULT_INJECTED", seen)
            self.assertTrue(all(process_alive(p) for p in pids))
            self.assertTrue(wait_until(lambda: glob.glob(os.path.join(tmp, "drone-workers-*")), 5),
                            "the workers' temporary directory is under $TMPDIR")
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
        return proc, pids, seen

    def test_sigint_mid_run_leaves_no_worker_process(self):
        with TempDir() as tmp:
            proc, pids, seen = self.start_on_workers(tmp, "--no-store")
            try:
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=90)
                self.assertEqual(proc.returncode, 3, seen + err)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
            self.assertTrue(wait_until(lambda: not any(process_alive(p) for p in pids), 10),
                            f"workers {pids} outlived the coordinator")
            self.assertEqual(glob.glob(os.path.join(tmp, "drone-workers-*")), [],
                             "the workers' temporary directory was left behind")

    def test_drone_clean_removes_what_a_sigkilled_run_on_workers_left(self):
        with TempDir() as tmp:
            data = os.path.join(tmp, "data")
            proc, pids, _ = self.start_on_workers(tmp, "--data-dir", data)
            proc.kill()
            proc.communicate(timeout=30)
            self.assertTrue(wait_until(lambda: not any(process_alive(p) for p in pids), 10),
                            f"workers {pids} outlived the SIGKILLed coordinator")
            left = glob.glob(os.path.join(tmp, "drone-workers-*"))
            self.assertEqual(len(left), 1, "a SIGKILLed run cannot remove the workers' directory")
            clean = run_drone("clean", "--data-dir", data, env=dict(os.environ, TMPDIR=tmp))
            self.assertEqual(clean.returncode, 0, clean.stdout + clean.stderr)
            self.assertIn(left[0], clean.stdout + clean.stderr)
            self.assertFalse(os.path.exists(left[0]), "drone clean removed the workers' directory")


if __name__ == "__main__":
    unittest.main()
