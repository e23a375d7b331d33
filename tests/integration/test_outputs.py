"""What a run gives other tools: Prometheus metrics scraped while it runs (--metrics-port), JUnit XML
(--junit) and the self-contained HTML report of the stored run (drone report). One short embedded
run with a fault and a deliberately failing check is shared by every test."""
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's python3-prometheus-client (scripts/setup.sh) is pure Python; reach it from an
    # interpreter that is not Debian's own.
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

from drone_test_support import DRONE, TempDir, load_json, write_flow

FLOW = """name: observed
steps:
  cluster: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 3 } }
  topic: { kind: topic, needs: [cluster], with: { name: t, partitions: 3, replication: 3 } }
  load:
    kind: workload
    needs: [topic]
    background: true
    with: { topic: t, producers: 1, consumers: 1, rate: 300, duration: 4s, size: 100, acks: all }
  outage:
    kind: fault.kill
    needs: [load.started]
    after: 1s
    with: { target: "${{ steps.cluster.outputs.nodes[1] }}", duration: 1500ms }
  verify:
    kind: check
    needs: [load]
    with: { expect: { lost: 0, sent: "< 10" } }
"""


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.headers.get("Content-Type"), response.read().decode()


def samples(text, name):
    """(labels, value) of every sample called `name` (parsing fails on malformed text)."""
    found = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                found.append((s.labels, s.value))
    return found


class OutputsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = TempDir()
        cls.dir = cls._tmp.__enter__()
        cls.data_dir = os.path.join(cls.dir, "data")
        flow = write_flow(cls.dir, "observed.yaml", FLOW)
        cls.junit_path = os.path.join(cls.dir, "junit.xml")
        json_path = os.path.join(cls.dir, "result.json")
        err_path = os.path.join(cls.dir, "stderr.txt")
        cls.scrapes = []  # (content type, text) while the run ran
        with open(err_path, "w") as err:
            proc = subprocess.Popen(
                [DRONE, "run", flow, "--metrics-port", "0", "--junit", cls.junit_path, "--json",
                 json_path, "--data-dir", cls.data_dir, "--no-progress"],
                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
        try:
            cls.url = None
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                if cls.url is None:
                    with open(err_path) as f:
                        for line in f:
                            if line.startswith("drone: metrics on "):
                                cls.url = line.split()[-1]
                if cls.url is not None:
                    try:
                        cls.scrapes.append(scrape(cls.url))
                    except (urllib.error.URLError, ConnectionError):
                        pass  # the run ended between poll() and the request
                time.sleep(0.2)  # the scrape interval, not a synchronisation
            cls.returncode = proc.wait(timeout=max(1, deadline - time.monotonic()))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        with open(err_path) as f:
            cls.stderr = f.read()
        cls.result = load_json(json_path)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.__exit__(None, None, None)

    def test_run_fails_on_its_check(self):
        self.assertEqual(self.returncode, 1, self.stderr)
        self.assertIsNotNone(self.url, self.stderr)
        self.assertTrue(self.url.startswith("http://127.0.0.1:"), self.url)

    def test_counters_rise_while_the_run_runs(self):
        run_id = self.result["run_id"]
        sent = []
        for content_type, text in self.scrapes:
            self.assertTrue(content_type.startswith("text/plain; version=0.0.4"), content_type)
            for labels, value in samples(text, "drone_messages_sent_total"):
                self.assertEqual(labels, {"run_id": run_id, "workload": "load"})
                sent.append(value)
        self.assertEqual(sent, sorted(sent), "a counter went backwards")
        distinct = sorted(set(v for v in sent if v > 0))
        self.assertGreaterEqual(len(distinct), 2, "saw no rising counter in %d scrapes" % len(self.scrapes))
        self.assertLessEqual(distinct[-1], self.result["workloads"]["load"]["sent"])

    def test_latency_histograms_are_cumulative(self):
        last = self.scrapes[-1][1]
        for name in ("drone_publish_latency_seconds", "drone_end_to_end_latency_seconds"):
            buckets = [(float(l["le"]), v) for l, v in samples(last, name + "_bucket")]
            self.assertTrue(buckets, name)
            self.assertEqual(buckets[-1][0], float("inf"))
            counts = [v for _, v in sorted(buckets)]
            self.assertEqual(counts, sorted(counts), name)
            count = samples(last, name + "_count")[0][1]
            self.assertEqual(counts[-1], count)
            self.assertGreater(count, 0, name)

    def test_fault_and_step_states_are_exposed(self):
        active = [v for _, text in self.scrapes
                  for l, v in samples(text, "drone_fault_active")
                  if l["step"] == "outage" and l["kind"] == "kill"]
        self.assertIn(1.0, active, "never saw the fault active")
        self.assertEqual(active[-1], 0.0, "the fault was healed")
        running = [v for _, text in self.scrapes
                   for l, v in samples(text, "drone_step_state")
                   if l["step"] == "load" and l["state"] == "running"]
        self.assertIn(1.0, running)
        info = samples(self.scrapes[0][1], "drone_run_info")
        self.assertEqual(info, [({"run_id": self.result["run_id"], "flow": "observed"}, 1.0)])

    def test_metrics_server_is_gone_after_the_run(self):
        port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        with socket.socket() as s:
            self.assertNotEqual(s.connect_ex(("127.0.0.1", port)), 0)

    def test_busy_metrics_port_is_bad_input(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            r = subprocess.run([DRONE, "run", os.path.join(self.dir, "observed.yaml"), "--metrics-port",
                                str(busy.getsockname()[1]), "--no-store"],
                               capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--metrics-port", r.stderr)
        self.assertIn("nothing was started", r.stderr)
        self.assertNotIn("running observed", r.stderr)

    def test_junit_has_a_case_per_check_and_delivery_verdict(self):
        root = ET.parse(self.junit_path).getroot()
        self.assertEqual(root.tag, "testsuites")
        suites = root.findall("testsuite")
        self.assertEqual(len(suites), 1)
        cases = suites[0].findall("testcase")
        names = [c.get("name") for c in cases]
        self.assertEqual(sorted(names), sorted([c["expect"] for c in self.result["checks"]] +
                                               ["delivery (at-least-once)"]))
        self.assertEqual(suites[0].get("tests"), str(len(cases)))
        failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
        self.assertEqual(list(failed), ["sent < 10"])
        self.assertEqual(suites[0].get("failures"), "1")
        self.assertEqual(failed["sent < 10"].get("message"),
                         "observed %d" % self.result["workloads"]["load"]["sent"])


if __name__ == "__main__":
    unittest.main()
