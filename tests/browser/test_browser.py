"""The web UI in a real browser (Debian's chromium, driven by playwright-core from ui/node_modules):
start flows/quickstart.yaml from the launchpad, watch it finish, check the verdict and that the
charts drew data; then open the run's HTML report with the network off. Screenshots are kept in
the build tree (DRONE_ARTIFACTS)."""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from drone_test_support import FLOWS, SOURCE_DIR, TempDir, load_json, run_drone, write_flow  # noqa: E402
from ui_support import UiServer  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
PLAYWRIGHT = os.path.join(SOURCE_DIR, "ui", "node_modules", "playwright-core")
ARTIFACTS = os.environ.get("DRONE_ARTIFACTS", os.path.join(SOURCE_DIR, "build", "browser-artifacts"))
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ui_browser.mjs")

# Two combinations of one second each: enough for the matrix comparison.
MATRIX_FLOW = """name: tiny-matrix
params: { rate: 200 }
matrix: { rate: [100, 300] }
steps:
  cluster: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 1 } }
  topic: { kind: topic, needs: [cluster], with: { name: m, partitions: 1, replication: 1 } }
  load:
    kind: workload
    needs: [topic]
    with: { topic: m, producers: 1, consumers: 1, rate: "${{ params.rate }}", duration: 1s, size: 64 }
"""

# A lone Redis cannot confirm WAIT 1: every send is indeterminate, with the reason in errors[].
UNCONFIRMED_FLOW = """name: sends-unconfirmed
steps:
  cluster: { kind: cluster, with: { broker: redis, platform: local, nodes: 1 } }
  topic: { kind: topic, needs: [cluster], with: { name: t, partitions: 1, replication: 1 } }
  load:
    kind: workload
    needs: [topic]
    with: { topic: t, producers: 1, consumers: 1, rate: 1000, messages: 64, size: 100,
            producer_config: { pipeline: "32", wait_replicas: "1", wait_timeout_ms: "10" } }
"""
HAVE_REDIS = shutil.which("redis-server") is not None


def missing():
    if not os.access(CHROMIUM, os.X_OK):
        return "no chromium at %s (apt-get install chromium, or make setup)" % CHROMIUM
    if NODE is None:
        return "no node on PATH (apt-get install nodejs, or make setup)"
    if not os.path.isdir(PLAYWRIGHT):
        return "no %s (run make setup: npm ci in ui/)" % PLAYWRIGHT
    return None


def browse(mode, target, timeout=400, *extra):
    r = subprocess.run([NODE, SCRIPT, mode, target, ARTIFACTS, *extra], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise AssertionError("browser script failed:\n" + r.stdout + r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def set_up_run_dirs(cls):
    """The artifacts directory, and a temporary directory with a run store for one test class;
    class cleanups remove it even when setUpClass fails half way (tearDownClass would not)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    cls._tmp = TempDir()
    cls.dir = cls._tmp.__enter__()
    cls.addClassCleanup(cls._tmp.__exit__, None, None, None)
    cls.data_dir = os.path.join(cls.dir, "data")


@unittest.skipIf(missing(), missing())
class BrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        set_up_run_dirs(cls)
        matrix_json = os.path.join(cls.dir, "matrix.json")
        flow = write_flow(cls.dir, "tiny-matrix.yaml", MATRIX_FLOW)
        cls.matrix_run = run_drone("run", flow, "--json", matrix_json, "--data-dir", cls.data_dir, timeout=300)
        cls.matrix = load_json(matrix_json) if os.path.exists(matrix_json) else {}
        cls.ui = UiServer(cls.data_dir, FLOWS)
        cls.addClassCleanup(cls.ui.stop)
        cls.seen = browse("live", cls.ui.url)
        cls.matrix_seen = browse("matrix", cls.ui.url, 400, cls.matrix.get("matrix_id", "none"))
        if HAVE_REDIS:
            unconfirmed_json = os.path.join(cls.dir, "unconfirmed.json")
            flow = write_flow(cls.dir, "unconfirmed.yaml", UNCONFIRMED_FLOW)
            cls.unconfirmed_run = run_drone("run", flow, "--json", unconfirmed_json, "--data-dir", cls.data_dir,
                                            timeout=120)
            cls.unconfirmed = load_json(unconfirmed_json) if os.path.exists(unconfirmed_json) else {}
            cls.failures_seen = browse("failures", cls.ui.url, 400, cls.unconfirmed.get("run_id", "none"))

    def test_quickstart_from_the_launchpad_passes(self):
        seen = self.seen
        self.assertEqual(seen["errors"], [])
        self.assertEqual(seen["dag_nodes"], 5)
        self.assertIn("rate", seen["inline_error"])
        self.assertTrue(seen["start_disabled_on_error"])
        self.assertEqual(seen["verdict"], "pass")
        result = self.ui.get("/api/runs/" + seen["run_id"])
        self.assertEqual(result["verdict"], "pass")
        self.assertEqual(result["params"]["duration"], "10s")  # as edited in the launchpad
        self.assertIn(seen["run_id"], seen["history_runs"])
        self.assertEqual(seen["history_quickstart_pass"], [seen["run_id"]])  # the matrix runs filtered out
        self.assertEqual(seen["history_quickstart_fail"], [])

    def test_the_dag_is_coloured_by_step_kind(self):
        fills = self.seen["dag_fill_by_kind"]
        self.assertEqual(sorted(fills), ["check", "cluster", "fault.kill", "topic", "workload"])
        self.assertEqual(len(set(fills.values())), 5, fills)

    def test_the_step_logs_show_the_runs_output(self):
        self.assertIn(self.seen["run_id"], self.seen["drone_log"])

    def test_the_charts_drew_data(self):
        for charts in (self.seen["live_charts"], self.seen["charts"]):
            self.assertTrue(charts)
            for name, chart in charts.items():
                self.assertTrue(all(n > 0 for n in chart["lengths"]), (name, chart))
                self.assertGreater(chart["ink"], 0, name)
        finished = self.seen["charts"]
        self.assertGreaterEqual(min(finished[k]["lengths"][0] for k in finished), 8)

    def test_the_run_view_shows_steps_delivery_topology_and_faults(self):
        seen = self.seen
        self.assertEqual(seen["gantt_bars"], 5)
        self.assertEqual(seen["delivery_rows"], 2)  # header and the one workload
        self.assertEqual(seen["topology_nodes"], 3)
        self.assertEqual(seen["faulted_nodes"], 1)  # broker-2, killed by the outage
        self.assertTrue(any("FAULT_INJECTED" in e for e in seen["filtered_events"]))
        self.assertTrue(all("FAULT_" in e for e in seen["filtered_events"]))

    def test_the_live_charts_shade_the_open_fault_window(self):
        charts = [c for c in self.seen["live_bands"] if c["chart"].startswith("load:")]
        self.assertEqual(len(charts), 2, self.seen["live_bands"])  # throughput and latency
        for chart in charts:
            open_bands = [b for b in chart["bands"] if b["open"]]
            self.assertEqual(len(open_bands), 1, chart)
            band = open_bands[0]
            self.assertEqual(band["step"], "outage")
            self.assertTrue(band["visible"])
            self.assertGreater(band["width"], 0)
            self.assertGreater(band["from"], 0)  # the outage starts after the load did
            # Hovering names the fault: step, kind, the killed node and the backend.
            self.assertRegex(band["title"], r"^outage: kill broker-2 via \S+")
            self.assertTrue(any("outage: kill broker-2" in t and "now" in t for t in chart["legend"]), chart)

    def test_the_live_topology_shows_the_killed_node_down(self):
        nodes = self.seen["live_nodes"]
        self.assertEqual(nodes["broker-2"], "down", nodes)
        self.assertEqual([n for n, s in nodes.items() if s != "ok"], ["broker-2"])
        self.assertTrue(any(t.startswith("active: outage: kill broker-2") for t in self.seen["live_fault_list"]))

    def test_the_finished_run_shades_the_closed_window_and_replays_the_topology(self):
        charts = [c for c in self.seen["finished_bands"] if c["chart"].startswith("load:")]
        self.assertEqual(len(charts), 2, self.seen["finished_bands"])
        result = self.ui.get("/api/runs/%s/series" % self.seen["run_id"])
        window = result["workloads"]["load"]["fault_windows"][0]
        for chart in charts:
            self.assertEqual(len(chart["bands"]), 1, chart)
            band = chart["bands"][0]
            self.assertFalse(band["open"])
            self.assertAlmostEqual(band["from"], window["from_s"], places=3)
            self.assertAlmostEqual(band["to"], window["to_s"], places=3)
            self.assertGreater(band["width"], 0)
        self.assertEqual(self.seen["nodes_at_end"]["broker-2"], "healed")
        self.assertEqual(self.seen["nodes_during_outage"]["broker-2"], "down")
        self.assertEqual(self.seen["nodes_at_start"]["broker-2"], "ok")
        self.assertTrue(any(t.startswith("active: outage") for t in self.seen["fault_list_during_outage"]))

    def test_a_matrix_is_compared_from_the_history(self):
        self.assertEqual(self.matrix_run.returncode, 0, self.matrix_run.stderr)
        seen = self.matrix_seen
        self.assertEqual(seen["errors"], [])
        self.assertIn("2 runs of matrix " + self.matrix["matrix_id"], seen["compare_link"])
        self.assertEqual(seen["compare_columns"], 3)  # the label column and the two runs
        # In the order of the combinations, each with its parameters.
        self.assertEqual([p.strip() for p in seen["params_row"]], ["rate=100", "rate=300"])
        chart = seen["compare_chart"]["compare:e2e_p99"]
        self.assertEqual(len(chart["lengths"]), 2)
        self.assertTrue(all(n > 0 for n in chart["lengths"]), chart)

    @unittest.skipUnless(HAVE_REDIS, "redis-server is not installed (make setup installs it)")
    def test_the_run_view_says_why_sends_failed(self):
        self.assertEqual(self.unconfirmed_run.returncode, 0, self.unconfirmed_run.stderr)
        self.assertEqual(self.unconfirmed["workloads"]["load"]["indeterminate"], 64)
        seen = self.failures_seen
        self.assertEqual(seen["errors"], [])
        # The header row, then one row: workload, outcome, error, messages.
        self.assertEqual(seen["failure_rows"][1:],
                         [["load", "indeterminate", "WAIT: 0 of 1 replicas acknowledged", "64"]])

    def test_compare_shows_runs_side_by_side(self):
        self.assertEqual(self.seen["compare_columns"], 3)  # the label column and two runs
        chart = self.seen["compare_chart"]["compare:e2e_p99"]
        self.assertEqual(len(chart["lengths"]), 2)
        self.assertTrue(all(n > 0 for n in chart["lengths"]), chart)
        self.assertGreater(chart["ink"], 0)

    def test_the_report_renders_offline(self):
        path = os.path.join(self.dir, "report.html")
        r = run_drone("report", self.seen["run_id"], "-o", path, "--data-dir", self.data_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        seen = browse("report", path)
        self.assertEqual(seen["errors"], [])
        self.assertEqual(seen["external_requests"], [])
        self.assertIn("quickstart", seen["title"] + seen["body_text"])
        self.assertIn("pass", seen["body_text"])
        self.assertGreater(seen["svg_charts"], 0)
        self.assertTrue(seen["lines_with_values"] and all(n > 0 for n in seen["lines_with_values"]))
        # The outage shaded on both charts, named on hover.
        self.assertEqual(len(seen["fault_rects"]), 2, seen["fault_rects"])
        for rect in seen["fault_rects"]:
            self.assertEqual(rect["step"], "outage")
            self.assertRegex(rect["title"], r"^outage: kill broker-2 via \S+")
            self.assertGreater(rect["width"], 0)


@unittest.skipIf(missing(), missing())
class ScaleTest(unittest.TestCase):
    """Issue 6's scale: a real run of a million messages with ten faults (flows/scale-1m.yaml),
    opened in the run view. The page must draw it from server-side summaries: nothing it fetches
    may grow with the number of messages."""

    @classmethod
    def setUpClass(cls):
        set_up_run_dirs(cls)
        result_path = os.path.join(cls.dir, "result.json")
        cls.flow_run = run_drone("run", os.path.join(FLOWS, "scale-1m.yaml"), "--json", result_path,
                            "--data-dir", cls.data_dir, timeout=300)
        cls.result = load_json(result_path) if os.path.exists(result_path) else {}
        cls.ui = UiServer(cls.data_dir, FLOWS)
        cls.addClassCleanup(cls.ui.stop)
        cls.seen = browse("scale", cls.ui.url, 300, cls.result.get("run_id", "none"))

    def test_the_run_moved_a_million_messages_through_ten_faults(self):
        self.assertEqual(self.flow_run.returncode, 0, self.flow_run.stderr[-3000:])
        load = self.result["workloads"]["load"]
        self.assertEqual(load["delivery"]["ok"], 1000000)
        self.assertEqual(len(self.result["faults"]), 10)
        self.assertEqual(self.seen["verdict"], "pass")
        self.assertEqual(self.seen["errors"], [])
        self.assertIn("1,000,000", self.seen["delivery_text"])

    def test_the_page_loads_no_per_message_data(self):
        answers = self.seen["answers"]
        self.assertTrue(answers, "the page fetched nothing from the API")
        # One byte per message would be 1 MB; the page's answers together stay far below that.
        self.assertLess(max(a["bytes"] for a in answers), 128 * 1024, answers)
        self.assertLess(sum(a["bytes"] for a in answers), 256 * 1024, answers)
        self.assertTrue(any("points=" in a["path"] for a in answers), answers)  # downsampled series
        for name, chart in self.seen["charts"].items():
            self.assertGreater(chart["ink"], 0, name)
            self.assertTrue(all(0 < n <= 600 for n in chart["lengths"]), (name, chart["lengths"]))

    def test_every_fault_window_is_shaded_and_named(self):
        for chart in self.seen["bands"]:
            steps = sorted(b["step"] for b in chart["bands"])
            self.assertEqual(steps, sorted("slow-%d" % i for i in range(1, 11)), chart["chart"])
            for band in chart["bands"]:
                self.assertFalse(band["open"], band)
                self.assertGreater(band["width"], 0, band)
                self.assertRegex(band["title"], r"^slow-\d+: delay broker-\d via ")


if __name__ == "__main__":
    unittest.main()
