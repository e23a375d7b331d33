"""Redis on the local platform, end to end through the binary: the failover flow, the unsafe flow
and its safe counterpart, a cross-check with redis-cli, and a missing server binary."""
import os
import shutil
import subprocess
import unittest

from drone_test_support import FLOWS, TempDir, load_json, run_drone, validate_result, write_flow

HAVE_REDIS = all(shutil.which(p) for p in ("redis-server", "redis-sentinel", "redis-cli"))
SKIP_REASON = "redis-server, redis-sentinel or redis-cli is not installed (make setup installs them)"


def leftovers(run_tmp):
    """Processes started from a run directory under `run_tmp` (the servers' config files live
    there), and whatever is left in it. Both must be empty once a run has ended."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    procs = [line.strip() for line in out.splitlines() if run_tmp in line]
    return procs, sorted(os.listdir(run_tmp))


class RunOnce:
    """Runs one flow once per test class and keeps its result."""

    @classmethod
    def run_flow(cls, flow, *params):
        cls.tmp = TempDir()
        d = cls.tmp.__enter__()
        cls.json_path = os.path.join(d, "result.json")
        cls.run_tmp = os.path.join(d, "tmp")
        os.mkdir(cls.run_tmp)
        args = ["run", flow, "--json", cls.json_path, "--no-store"]
        for p in params:
            args += ["-p", p]
        cls.proc = run_drone(*args, env=dict(os.environ, TMPDIR=cls.run_tmp))
        cls.result = load_json(cls.json_path) if os.path.exists(cls.json_path) else {}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.__exit__(None, None, None)

    def output(self):
        return self.proc.stdout + self.proc.stderr

    def setUp(self):
        # Without a result every assertion below would fail on a missing key; say why instead.
        if not self.result and self.proc.returncode != 2:
            self.fail(f"drone wrote no result (exit {self.proc.returncode}):\n{self.output()[-4000:]}")


@unittest.skipUnless(HAVE_REDIS, SKIP_REASON)
class RedisFailoverTest(RunOnce, unittest.TestCase):
    """flows/redis-failover.yaml: WAIT 1 through a primary kill loses nothing acknowledged."""

    @classmethod
    def setUpClass(cls):
        cls.run_flow(os.path.join(FLOWS, "redis-failover.yaml"))

    def test_passes(self):
        self.assertEqual(self.proc.returncode, 0, self.output())
        self.assertEqual(self.result["verdict"], "pass")
        validate_result(self.result)

    def test_nothing_acknowledged_was_lost(self):
        w = self.result["workloads"]["load"]
        self.assertGreater(w["acked"], 10000)
        self.assertEqual(w["delivery"]["lost"], 0)
        self.assertEqual(w["delivery"]["unseen"], 0)
        self.assertEqual(w["acked"] + w["failed"] + w["indeterminate"], w["sent"])

    def test_the_primary_was_killed_by_signal_and_resolved_at_fire_time(self):
        faults = self.result["faults"]
        self.assertEqual(len(faults), 1)
        self.assertEqual(faults[0]["kind"], "kill")
        self.assertEqual(faults[0]["backend"], "signal")
        self.assertEqual(faults[0]["target"], "redis-1")
        self.assertEqual(faults[0]["details"]["requested"], "primary")
        self.assertGreater(faults[0]["end_ns"], faults[0]["start_ns"])

    def test_cluster_outputs_name_nodes_pids_and_roles(self):
        cluster = next(s for s in self.result["steps"] if s["id"] == "cluster")
        out = cluster["outputs"]
        self.assertEqual(out["nodes"], ["redis-1", "redis-2", "redis-3"])
        self.assertEqual(out["roles"], ["primary", "replica", "replica"])
        self.assertEqual(len(set(a.split(":")[0] for a in out["addresses"])), 3, out["addresses"])
        self.assertTrue(all(p > 0 for p in out["pids"]))
        self.assertEqual(out["lb"], "")
        self.assertEqual(len(out["bootstrap"].split(",")), 3, "clients get the three sentinels")

    def test_nothing_is_left_running_or_on_disk(self):
        self.assertEqual(leftovers(self.run_tmp), ([], []))


@unittest.skipUnless(HAVE_REDIS, SKIP_REASON)
class RedisUnsafeAsyncFailoverTest(RunOnce, unittest.TestCase):
    """flows/redis-unsafe-async-failover.yaml: without WAIT, acknowledged writes die with the primary."""

    @classmethod
    def setUpClass(cls):
        cls.run_flow(os.path.join(FLOWS, "redis-unsafe-async-failover.yaml"))

    def test_drone_reports_the_loss_and_fails_the_verdict(self):
        w = self.result["workloads"]["load"]
        self.assertGreater(w["delivery"]["lost"], 0, self.output())
        self.assertEqual(self.result["verdict"], "fail")
        self.assertEqual(self.proc.returncode, 1, self.output())
        checks = self.result["checks"]
        self.assertEqual(len(checks), 1)
        self.assertTrue(checks[0]["passed"], checks)

    def test_nothing_is_left_running_or_on_disk(self):
        self.assertEqual(leftovers(self.run_tmp), ([], []))

    def test_drone_read_the_new_primary_and_the_lost_messages_are_not_there(self):
        # After the loss Drone reads the stream from its start (XRANGE on the new primary): the
        # messages were dropped by the failover, not kept undelivered.
        d = self.result["workloads"]["load"]["delivery"]
        self.assertIn("lost_stored", d, self.output())
        self.assertEqual(d["lost_stored"], 0, self.output())

    def test_faults_paused_the_replicas_and_killed_the_primary(self):
        kinds = sorted((f["kind"], f["target"]) for f in self.result["faults"])
        self.assertEqual(kinds, [("kill", "redis-1"), ("pause", "redis-2"), ("pause", "redis-3")])
        self.assertTrue(all(f["backend"] == "signal" for f in self.result["faults"]))


@unittest.skipUnless(HAVE_REDIS, SKIP_REASON)
class RedisWaitCounterpartTest(RunOnce, unittest.TestCase):
    """The unsafe flow with WAIT 1: the frozen replicas cannot confirm, so nothing is acknowledged
    that could be lost."""

    @classmethod
    def setUpClass(cls):
        cls.run_flow(os.path.join(FLOWS, "redis-unsafe-async-failover.yaml"),
                     "wait_replicas=1", "expect_lost=0", "duration=7s")

    def test_loses_nothing_acknowledged(self):
        w = self.result["workloads"]["load"]
        self.assertEqual(w["delivery"]["lost"], 0, self.output())
        self.assertGreater(w["indeterminate"], 0, "WAIT reported too few replicas while they were frozen")
        self.assertGreater(w["acked"], 0)
        self.assertEqual(self.proc.returncode, 0, self.output())

    def test_the_result_says_why_sends_were_indeterminate(self):
        w = self.result["workloads"]["load"]
        errors = w["errors"]
        self.assertTrue(errors, self.output())
        self.assertEqual(sum(e["count"] for e in errors if e["outcome"] == "indeterminate"),
                         w["indeterminate"], errors)
        self.assertEqual(sum(e["count"] for e in errors if e["outcome"] == "nack"), w["failed"], errors)
        # The frozen replicas: WAIT answered 0 of 1. (The primary's death adds its own reasons.)
        self.assertIn("indeterminate: WAIT: 0 of 1 replicas acknowledged",
                      {e["outcome"] + ": " + e["error"] for e in errors}, errors)


@unittest.skipUnless(HAVE_REDIS, SKIP_REASON)
class RedisCliCrossCheckTest(unittest.TestCase):
    """redis-cli reads the stream Drone wrote, while the cluster is still up, and counts the same."""

    FLOW = """
name: redis-cross-check
steps:
  cluster: { kind: cluster, with: { broker: redis, platform: local, nodes: 1 } }
  topic: { kind: topic, needs: [cluster], with: { name: orders, partitions: 1, replication: 1 } }
  load:
    kind: workload
    needs: [topic]
    with: { topic: orders, producers: 2, consumers: 1, rate: 5000, messages: 3000, size: 100,
            producer_config: { pipeline: 32 } }
  xlen:
    kind: exec
    needs: [load]
    with: { argv: [redis-cli, -u, "redis://${{ steps.cluster.outputs.addresses[0] }}", XLEN, orders] }
  xrange:
    kind: exec
    needs: [load]
    with: { argv: [redis-cli, -u, "redis://${{ steps.cluster.outputs.addresses[0] }}", --no-raw,
                   XRANGE, orders, "-", "+"], max_output: 10000000 }
"""

    def test_redis_cli_counts_what_drone_counted(self):
        with TempDir() as d:
            flow = write_flow(d, "cross.yaml", self.FLOW)
            json_path = os.path.join(d, "r.json")
            proc = run_drone("run", flow, "--json", json_path, "--no-store")
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            result = load_json(json_path)
        w = result["workloads"]["load"]
        self.assertEqual(w["acked"], 3000)
        self.assertEqual(w["received"], 3000)
        outputs = {s["id"]: s["outputs"] for s in result["steps"]}
        self.assertEqual(int(outputs["xlen"]["stdout"].strip()), w["acked"])
        # Every entry has the field "d" (Drone's payload): count the entries XRANGE returns.
        entries = [line for line in outputs["xrange"]["stdout"].splitlines() if line.strip().endswith('"d"')]
        self.assertEqual(len(entries), w["received"])


@unittest.skipUnless(HAVE_REDIS, SKIP_REASON)
class ProcessFaultKindsTest(RunOnce, unittest.TestCase):
    """fault.restart and fault.stop on local nodes, by role and by name, under load."""

    FLOW = """
name: redis-process-faults
steps:
  cluster: { kind: cluster, with: { broker: redis, platform: local, nodes: 3 } }
  topic: { kind: topic, needs: [cluster], with: { name: orders, partitions: 1, replication: 1 } }
  load:
    kind: workload
    needs: [topic]
    background: true
    with: { topic: orders, rate: 500, duration: 6s, producer_config: { wait_replicas: 1 } }
  restart_replica:
    kind: fault.restart
    needs: [load.started]
    after: 1s
    with: { target: replica, duration: 1s }
  stop_sentinel:
    kind: fault.stop
    needs: [load.started]
    after: 1s
    with: { target: sentinel-2, duration: 2s }
  verify: { kind: check, needs: [load], with: { expect: { lost: 0, unseen: 0 } } }
"""

    @classmethod
    def setUpClass(cls):
        cls.flow_dir = TempDir()
        path = write_flow(cls.flow_dir.__enter__(), "faults.yaml", cls.FLOW)
        cls.run_flow(path)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.flow_dir.__exit__(None, None, None)

    def test_passes(self):
        self.assertEqual(self.proc.returncode, 0, self.output())

    def test_each_fault_is_recorded_with_what_was_asked(self):
        faults = {f["step"]: f for f in self.result["faults"]}
        restart = faults["restart_replica"]
        self.assertEqual(restart["kind"], "restart")
        self.assertIn(restart["target"], ("redis-2", "redis-3"))
        self.assertEqual(restart["details"]["requested"], "replica")
        self.assertGreaterEqual((restart["end_ns"] - restart["start_ns"]) / 1e9, 1.0)
        stop = faults["stop_sentinel"]
        self.assertEqual(stop["kind"], "stop")
        self.assertEqual(stop["target"], "sentinel-2")
        self.assertTrue(all(f["backend"] == "signal" for f in faults.values()))

    def test_nothing_is_left_running_or_on_disk(self):
        self.assertEqual(leftovers(self.run_tmp), ([], []))


class ProcessFaultsNeedTheLocalPlatformTest(unittest.TestCase):
    def test_pause_on_embedded_is_bad_input(self):
        flow = """
name: pause-embedded
steps:
  cluster: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 3 } }
  freeze: { kind: fault.pause, needs: [cluster], with: { target: broker-1, duration: 1s } }
"""
        with TempDir() as d:
            proc = run_drone("validate", write_flow(d, "p.yaml", flow))
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("steps.freeze.kind: fault.pause needs server processes", proc.stderr)
        self.assertIn("platform local", proc.stderr)


@unittest.skipUnless(HAVE_REDIS, SKIP_REASON)
class MissingServerBinaryTest(unittest.TestCase):
    """A missing redis-server is one clear error naming the package; exit 2; nothing started."""

    def test_names_the_package_and_starts_nothing(self):
        with TempDir() as d:
            empty = os.path.join(d, "empty-bin")
            tmp = os.path.join(d, "tmp")
            os.mkdir(empty)
            os.mkdir(tmp)
            env = dict(os.environ, PATH=empty, TMPDIR=tmp)
            proc = run_drone("run", os.path.join(FLOWS, "redis-failover.yaml"), "--no-store", env=env)
            self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
            self.assertIn("redis-server", proc.stderr)
            self.assertIn("install the Debian package", proc.stderr)
            self.assertIn("redis-failover.yaml:", proc.stderr, "names the flow file and line")
            self.assertEqual(leftovers(tmp), ([], []), "nothing started, no run directory")

    def test_validate_reports_it_too(self):
        with TempDir() as d:
            empty = os.path.join(d, "empty-bin")
            os.mkdir(empty)
            env = dict(os.environ, PATH=empty)
            proc = run_drone("validate", os.path.join(FLOWS, "redis-failover.yaml"), env=env)
            self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
            self.assertIn("redis-server", proc.stderr)


if __name__ == "__main__":
    unittest.main()
