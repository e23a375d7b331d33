"""What a run gives other tools: Prometheus metrics scraped while it runs (--metrics-port), JUnit XML
(--junit) and the self-contained HTML report of the stored run (drone report). One short embedded
run with a fault and a deliberately failing check is shared by every test."""
import os
import re
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's python3-prometheus-client (scripts/setup.sh) is pure Python; reach it from an
    # interpreter that is not Debian's own.
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

from drone_test_support import DRONE, SOURCE_DIR, TempDir, load_json, write_flow

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
    on_error: continue
    with: { expect: { lost: 0, sent: "< 10" } }
  # Keeps the run (and its metrics server) up for a few scrapes after the delivery is verified;
  # the failing check above must not cancel it.
  linger: { kind: sleep, needs: [load], with: { duration: 1500ms } }
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


class ReportParser(HTMLParser):
    """Collects what the report tests look at: chart lines, fault windows, the verdict, check rows,
    and every attribute and style/script text (where an external reference would hide)."""

    def __init__(self):
        super().__init__()
        self.lines = {}  # (svg id, data-series) -> [values]
        self.faults = {}  # svg id -> [(from, to)]
        self.attributes = []
        self.code = []  # text inside <style> and <script>
        self.verdict = None
        self.checks = []  # [[cell text, ...]] of rows of the checks table
        self.categories = {}
        self._svg = None
        self._in = []
        self._row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.attributes.extend(v or "" for _, v in attrs)
        self._in.append((tag, a))
        if tag == "svg":
            self._svg = a.get("id")
        elif tag == "polyline" and self._svg:
            self.lines[(self._svg, a["data-series"])] = [float(v) for v in a["data-values"].split()]
        elif tag == "rect" and "fault" in a.get("class", "") and "data-from" in a:
            self.faults.setdefault(self._svg, []).append((float(a["data-from"]), float(a["data-to"])))
        elif tag == "tr" and ("check" in a.get("class", "") or "data-category" in a):
            self._row = (a.get("data-category"), [])
        elif tag == "td" and self._row is not None:
            self._row[1].append("")

    def handle_endtag(self, tag):
        while self._in:
            t, _ = self._in.pop()
            if t == tag:
                break
        if tag == "svg":
            self._svg = None
        if tag == "tr" and self._row is not None:
            category, cells = self._row
            if category is None:
                self.checks.append(cells)
            else:
                self.categories[category] = int(cells[1])
            self._row = None

    def handle_data(self, data):
        if not self._in:
            return
        tag, a = self._in[-1]
        if tag in ("style", "script"):
            self.code.append(data)
        if a.get("id") == "verdict":
            self.verdict = data
        if self._row is not None and tag == "td":
            self._row[1][-1] += data


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

    def report(self):
        if not hasattr(self.__class__, "_report"):
            out = os.path.join(self.dir, "report.html")
            r = subprocess.run([DRONE, "report", self.result["run_id"], "-o", out, "--data-dir",
                                self.data_dir], capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out) as f:
                text = f.read()
            parser = ReportParser()
            parser.feed(text)
            parser.close()
            self.__class__._report = (text, parser)
        return self.__class__._report

    def test_report_charts_draw_the_runs_series(self):
        _, report = self.report()
        series = self.result["workloads"]["load"]["series"]
        self.assertGreater(len(series), 2)
        for key in ("sent", "acked", "received"):
            self.assertEqual(report.lines[("throughput-load", key)], [float(p[key]) for p in series], key)
        for key in ("publish_p99_ms", "end_to_end_p50_ms", "end_to_end_p99_ms"):
            drawn = report.lines[("latency-load", key)]
            self.assertEqual(len(drawn), len(series))
            for d, p in zip(drawn, series):
                self.assertAlmostEqual(d, p[key], places=3)

    def test_report_shades_the_fault_window(self):
        _, report = self.report()
        (fault,) = self.result["faults"]
        for chart in ("throughput-load", "latency-load"):
            (window,) = report.faults[chart]
            self.assertAlmostEqual(window[1] - window[0], 1.5, delta=0.3)
            self.assertGreater(window[0], 0)

    def test_report_shows_verdict_checks_and_delivery(self):
        _, report = self.report()
        self.assertEqual(report.verdict, self.result["verdict"])
        rows = {cells[1]: cells for cells in report.checks}
        for c in self.result["checks"]:
            self.assertIn(c["expect"], rows)
            self.assertEqual(rows[c["expect"]][3], "pass" if c["passed"] else "FAIL")
        self.assertEqual(rows["sent < 10"][2], str(self.result["workloads"]["load"]["sent"]))
        delivery = self.result["workloads"]["load"]["delivery"]
        self.assertEqual(report.categories["ok"], delivery["ok"])
        self.assertEqual(report.categories["lost"], delivery["lost"])

    def test_report_references_nothing_outside_itself(self):
        text, report = self.report()
        for where in report.attributes + report.code:
            self.assertNotIn("http://", where)
            self.assertNotIn("https://", where)
            self.assertNotIn("url(", where)
        self.assertNotRegex(text, r"<(script|link|img|iframe)[^>]*(src|href)=")

    def test_report_of_a_missing_run_is_bad_input(self):
        out = os.path.join(self.dir, "missing.html")
        r = subprocess.run([DRONE, "report", "no-such-run", "-o", out, "--data-dir", self.data_dir],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no-such-run", r.stderr)
        self.assertFalse(os.path.exists(out))

    def test_grafana_dashboard_uses_only_exposed_metrics(self):
        dashboard = load_json(os.path.join(SOURCE_DIR, "deploy", "grafana", "drone.json"))
        queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        queries += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
        self.assertGreater(len(queries), 5)
        exposed = set()
        for _, text in self.scrapes:
            for family in text_string_to_metric_families(text):
                exposed.update(s.name for s in family.samples)
        used = set(n for q in queries for n in re.findall(r"\bdrone_[a-z_]+", q))
        self.assertIn("drone_end_to_end_latency_seconds_bucket", used)
        self.assertEqual(sorted(used - exposed), [], "names the dashboard queries but Drone never exposed")

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
