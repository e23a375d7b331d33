"""RabbitMQ on the local platform: a real 3-node cluster, a node kill under load, the safe and the
unsafe configuration, and a missing server binary. Each flow starts its own cluster (a flow owns
its cluster from start to teardown), so the suite starts three clusters in all (one is killed
while it boots)."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

from drone_test_support import (DRONE, FLOWS, TempDir, erlang_processes, load_json, run_drone,
                                write_flow)

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


@unittest.skipUnless(os.access(SERVER, os.X_OK),
                     "rabbitmq-server is not installed (apt-get install rabbitmq-server, or make setup)")
class LocalRabbitMqTest(unittest.TestCase):
    def run_flow(self, flow, *extra):
        """Runs a flow with its own TMPDIR; checks that nothing is left behind; returns (proc, result)."""
        before = erlang_processes()
        with TempDir() as d, tempfile.TemporaryDirectory(prefix="drone-tmp-") as tmp:
            out = os.path.join(d, "out.json")
            env = dict(os.environ, TMPDIR=tmp)
            proc = run_drone("run", flow, "--json", out, *extra, timeout=400, env=env)
            self.assertEqual(os.listdir(tmp), [], "run directory left behind")
            result = load_json(out) if os.path.exists(out) else None
        self.assertEqual(erlang_processes() - before, set(), "RabbitMQ or epmd processes left running")
        return proc, result

    def test_node_kill_loses_no_confirmed_message(self):
        proc, result = self.run_flow(os.path.join(FLOWS, "rabbitmq-node-kill.yaml"))
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(result["verdict"], "pass")
        w = result["workloads"]["load"]
        self.assertGreater(w["acked"], 1000)
        self.assertGreater(w["received"], 1000)
        self.assertEqual(w["delivery"]["lost"], 0)
        self.assertEqual(w["delivery"]["unseen"], 0)
        faults = result["faults"]
        self.assertEqual(len(faults), 1)
        # `leader` was resolved to a real node when the fault fired.
        self.assertRegex(faults[0]["target"], r"^rabbitmq-[123]$")

    def test_unsafe_configuration_loses_acknowledged_messages(self):
        proc, result = self.run_flow(os.path.join(FLOWS, "rabbitmq-unsafe-classic-transient.yaml"))
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        w = result["workloads"]["load"]
        self.assertGreater(w["delivery"]["lost"], 0, w["delivery"])
        self.assertEqual(w["delivery"]["unseen"], 0, w["delivery"])
        self.assertGreater(w["delivery"]["ok"], 0)

    def test_missing_server_names_the_package(self):
        with TempDir() as d:
            flow = write_flow(d, "missing.yaml", """
name: rabbitmq-missing
steps:
  cluster:
    kind: cluster
    with: { broker: rabbitmq, platform: local, nodes: 3, options: { bin_dir: /nonexistent/rabbitmq/bin } }
  queue: { kind: topic, needs: [cluster], with: { name: q, partitions: 1 } }
""")
            proc, result = self.run_flow(flow)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("rabbitmq-server", proc.stderr)
        self.assertIn("apt-get install", proc.stderr)

    def test_killed_drone_takes_its_nodes_along(self):
        before = erlang_processes()
        with tempfile.TemporaryDirectory(prefix="drone-tmp-") as tmp:
            env = dict(os.environ, TMPDIR=tmp)
            proc = subprocess.Popen([DRONE, "run", os.path.join(FLOWS, "rabbitmq-node-kill.yaml"), "--no-store"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL, env=env)
            try:
                deadline = time.monotonic() + 120
                while len(erlang_processes(parent=proc.pid)) < 4 and time.monotonic() < deadline:
                    self.assertIsNone(proc.poll(), "drone ended before its nodes ran")
                    time.sleep(0.2)
                self.assertGreaterEqual(len(erlang_processes(parent=proc.pid)), 4, "epmd and 3 nodes")
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            deadline = time.monotonic() + 30
            while erlang_processes() - before and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertEqual(erlang_processes() - before, set(), "nodes outlived a SIGKILLed drone")


if __name__ == "__main__":
    unittest.main()
