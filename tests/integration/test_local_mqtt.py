"""MQTT (mosquitto) on the local platform: the example flows end to end, a cross-check of what
Drone produced against mosquitto_sub's own count, and the error when mosquitto is missing."""
import os
import shutil
import unittest

from drone_test_support import FLOWS, TempDir, load_json, run_drone, validate_result, write_flow

HAVE_MOSQUITTO = shutil.which("mosquitto") is not None
HAVE_SUB = shutil.which("mosquitto_sub") is not None

# mosquitto_sub subscribes first with a persistent session of its own (-c, fixed id) and leaves
# at once (-E); the broker queues everything for it. After the load it comes back and prints one
# line per message: the payload's length (-F %l; the payload itself is Drone's binary envelope).
CROSS_CHECK_FLOW = """
name: mqtt-cross-check
steps:
  cluster: { kind: cluster, with: { broker: mqtt, platform: local, nodes: 1 } }
  session:
    kind: exec
    needs: [cluster]
    with:
      argv: [mosquitto_sub, -L, "mqtt://${{ steps.cluster.outputs.bootstrap }}/readings",
             -q, "1", -c, -i, drone-cross-check, -E]
  load:
    kind: workload
    needs: [session]
    with:
      topic: readings
      producers: 2
      consumers: 1
      messages: 3000
      rate: 1500
      size: 200
      acks: 1
      delivery: at-least-once
      producer_config: { qos: "1" }
  count:
    kind: exec
    needs: [load]
    with:
      argv: [mosquitto_sub, -L, "mqtt://${{ steps.cluster.outputs.bootstrap }}/readings",
             -q, "1", -c, -i, drone-cross-check, -C, "3000", -W, "30", -F, "%l"]
"""


@unittest.skipUnless(HAVE_MOSQUITTO and HAVE_SUB,
                     "mosquitto is not installed (apt-get install mosquitto mosquitto-clients)")
class MqttCrossCheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        d = cls.tmp.__enter__()
        cls.json_path = os.path.join(d, "result.json")
        flow = write_flow(d, "cross-check.yaml", CROSS_CHECK_FLOW)
        cls.proc = run_drone("run", flow, "--json", cls.json_path)
        cls.result = load_json(cls.json_path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.__exit__(None, None, None)

    def test_mosquitto_sub_counts_what_drone_counted(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stdout + self.proc.stderr)
        w = self.result["workloads"]["load"]
        self.assertEqual(w["sent"], 3000)
        self.assertEqual(w["acked"], 3000)
        self.assertEqual(w["delivery"]["ok"], 3000)
        count = next(s for s in self.result["steps"] if s["id"] == "count")
        lines = count["outputs"]["stdout"].splitlines()
        self.assertEqual(len(lines), w["acked"], "mosquitto_sub saw every acknowledged message")
        self.assertEqual(len(lines), w["received"], "and as many as Drone's own consumer")
        self.assertEqual(set(lines), {"200"}, "every one is a Drone message of the size sent")


@unittest.skipUnless(HAVE_MOSQUITTO, "mosquitto is not installed (apt-get install mosquitto)")
class MqttUnsafeKillTest(unittest.TestCase):
    """flows/mqtt-unsafe-kill.yaml: SIGKILL loses what mosquitto had acknowledged but not saved."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        d = cls.tmp.__enter__()
        cls.json_path = os.path.join(d, "result.json")
        cls.proc = run_drone("run", os.path.join(FLOWS, "mqtt-unsafe-kill.yaml"), "--json", cls.json_path)
        cls.result = load_json(cls.json_path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.__exit__(None, None, None)

    def test_drone_reports_the_loss(self):
        # The check (lost > 0) passes; the verdict fails: the broker broke at-least-once.
        self.assertEqual(self.proc.returncode, 1, self.proc.stdout + self.proc.stderr)
        self.assertEqual(self.result["verdict"], "fail")
        validate_result(self.result)
        checks = [s for s in self.result["steps"] if s["id"] == "verify"]
        self.assertEqual(checks[0]["status"], "succeeded", "Drone saw the loss it was told to expect")
        w = self.result["workloads"]["load"]
        self.assertEqual(w["verdict"], "fail")
        self.assertGreater(w["delivery"]["lost"], 0)
        self.assertEqual(w["delivery"]["unseen"], 0, "later messages arrived: the drain caught up")
        self.assertEqual(w["delivery"]["lost"], w["delivery"]["lost_gap"])
        self.assertEqual(self.result["faults"][0]["target"], "mosquitto-1")
        self.assertEqual(self.result["faults"][0]["backend"], "signal")


@unittest.skipUnless(HAVE_MOSQUITTO, "mosquitto is not installed (apt-get install mosquitto)")
class MqttQos1RestartTest(unittest.TestCase):
    """flows/mqtt-qos1-restart.yaml: a graceful restart loses nothing at QoS 1."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        d = cls.tmp.__enter__()
        cls.json_path = os.path.join(d, "result.json")
        cls.proc = run_drone("run", os.path.join(FLOWS, "mqtt-qos1-restart.yaml"), "--json", cls.json_path)
        cls.result = load_json(cls.json_path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.__exit__(None, None, None)

    def test_passes_and_loses_nothing(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stdout + self.proc.stderr)
        self.assertEqual(self.result["verdict"], "pass")
        validate_result(self.result)
        w = self.result["workloads"]["load"]
        self.assertGreater(w["acked"], 10000)
        self.assertEqual(w["delivery"]["lost"], 0)
        self.assertEqual(w["delivery"]["unseen"], 0)
        self.assertGreaterEqual(w["received"], w["acked"])

    def test_the_broker_really_went_away(self):
        fault = self.result["faults"][0]
        self.assertEqual(fault["target"], "mosquitto-1")
        # The producers waited while it was away: the longest publish took about the outage.
        w = self.result["workloads"]["load"]
        self.assertGreater(w["latency_ms"]["publish"]["max"], 1000)


class MqttMissingServerTest(unittest.TestCase):
    def test_missing_mosquitto_names_the_package(self):
        with TempDir() as empty:
            env = dict(os.environ, PATH=empty)
            proc = run_drone("run", os.path.join(FLOWS, "mqtt-unsafe-kill.yaml"), env=env, timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("mosquitto is not installed", proc.stderr)
        self.assertIn("apt-get install mosquitto", proc.stderr)
        self.assertNotIn("STEP_START", proc.stdout, "nothing started")


if __name__ == "__main__":
    unittest.main()
