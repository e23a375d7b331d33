"""NATS JetStream on the local platform: flows/nats-node-kill.yaml end to end (a real 3-node
cluster, the stream leader killed under load), and the error when nats-server is missing."""
import os
import shutil
import unittest
from datetime import datetime

from drone_test_support import FLOWS, TempDir, load_json, run_drone, validate_result, write_flow

HAVE_NATS = shutil.which("nats-server") is not None


def process_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except FileNotFoundError:
        return False


@unittest.skipUnless(HAVE_NATS, "nats-server is not installed (apt-get install nats-server)")
class NatsNodeKillTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        d = cls.tmp.__enter__()
        cls.json_path = os.path.join(d, "result.json")
        cls.proc = run_drone("run", os.path.join(FLOWS, "nats-node-kill.yaml"), "--json", cls.json_path)
        cls.result = load_json(cls.json_path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.__exit__(None, None, None)

    def test_passes_and_matches_the_contract(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stdout + self.proc.stderr)
        self.assertEqual(self.result["verdict"], "pass")
        validate_result(self.result)

    def test_no_acknowledged_message_was_lost(self):
        w = self.result["workloads"]["load"]
        self.assertGreater(w["acked"], 5000)
        self.assertEqual(w["delivery"]["lost"], 0)
        self.assertEqual(w["delivery"]["unseen"], 0)
        self.assertEqual(w["acked"] + w["failed"] + w["indeterminate"], w["sent"])
        self.assertGreaterEqual(w["received"], w["acked"])
        self.assertTrue(w["drain"]["caught_up"], "the consumer backlog reached 0")

    def test_the_stream_leader_was_killed_and_came_back(self):
        faults = self.result["faults"]
        self.assertEqual(len(faults), 1)
        self.assertEqual(faults[0]["kind"], "kill")
        self.assertEqual(faults[0]["backend"], "signal")
        self.assertRegex(faults[0]["target"], r"^nats-[123]$", "the role resolved to a node")
        types = [e["type"] for e in self.result["events"]]
        self.assertIn("FAULT_HEALED", types)

    def test_the_outage_shows_and_a_new_leader_takes_over_before_the_node_returns(self):
        w = self.result["workloads"]["load"]
        # While no leader is elected, publishes cannot be acknowledged: the outage is visible.
        self.assertGreater(w["failed"] + w["indeterminate"], 0)
        fault = self.result["faults"][0]
        load_start_ns = datetime.fromisoformat(w["started_at"].replace("Z", "+00:00")).timestamp() * 1e9
        start_s = (fault["start_ns"] - load_start_ns) / 1e9
        end_s = (fault["end_ns"] - load_start_ns) / 1e9
        # Seconds of the series that lie wholly inside the outage.
        during = [p for p in w["series"] if start_s + 1 <= p["t"] <= end_s]
        self.assertGreaterEqual(len(during), 5, "the series covers the outage")
        self.assertEqual(during[0]["acked"], 0, "the leader is gone: nothing is acknowledged at first")
        self.assertTrue(any(p["acked"] > 0 for p in during),
                        "acks resume on the surviving replicas while the node is down")

    def test_no_server_is_left_running(self):
        cluster = next(s for s in self.result["steps"] if s["id"] == "cluster")
        pids = cluster["outputs"]["pids"]
        self.assertEqual(len(pids), 3)
        for pid in pids:
            self.assertFalse(process_alive(int(pid)), f"nats-server {pid} still runs")


class NatsMissingServerTest(unittest.TestCase):
    def test_missing_nats_server_names_the_package(self):
        with TempDir() as empty:
            env = dict(os.environ, PATH=empty)
            proc = run_drone("run", os.path.join(FLOWS, "nats-node-kill.yaml"), env=env, timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("nats-server", proc.stderr)
        self.assertIn("apt-get install", proc.stderr)
        self.assertNotIn("STEP_START", proc.stdout, "nothing started")


BAD_SETTINGS_FLOW = """
name: bad-nats-settings
steps:
  cluster: { kind: cluster, with: { broker: nats, platform: local, nodes: 3 } }
  topic:
    kind: topic
    needs: [cluster]
    with: { name: orders, partitions: 1, replication: 3, config: { replica: "3" } }
  load:
    kind: workload
    needs: [topic]
    with: { topic: orders, messages: 10, consumer_config: { prefetch: "10" } }
"""


class NatsBadSettingsTest(unittest.TestCase):
    def test_unknown_stream_and_consumer_keys_are_bad_input(self):
        with TempDir() as d:
            flow = write_flow(d, "bad.yaml", BAD_SETTINGS_FLOW)
            proc = run_drone("validate", flow, timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertRegex(proc.stderr, r"bad\.yaml:\d+:\d+: steps\.topic\.with\.config: nats: unknown topic "
                                      r"config key 'replica' \(accepted: .*replicas")
        self.assertRegex(proc.stderr, r"bad\.yaml:\d+:\d+: steps\.load\.with\.consumer_config: nats: "
                                      r"unknown consumer_config key 'prefetch' \(accepted: .*mode")


if __name__ == "__main__":
    unittest.main()
