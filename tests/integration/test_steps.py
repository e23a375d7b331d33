"""Step kinds driven through `drone run`: wait, http (against a local HTTP server), collect."""
import glob
import http.server
import os
import tempfile
import threading
import unittest

from drone_test_support import FLOWS, TempDir, load_json, run_drone, validate_result, write_flow


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"status": "up"}' if self.path == "/health" else b"nope"
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class StepKindsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.base = "http://127.0.0.1:%d" % cls.server.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.thread.join()

    def test_http_wait_and_collect_into_the_run_directory(self):
        with TempDir() as d:
            with open(os.path.join(d, "app.log"), "w") as f:
                f.write("line one\n")
            flow = write_flow(d, "f.yaml", f"""name: steps
steps:
  probe: {{ kind: http, with: {{ url: "{self.base}/health", expect: {{ status: 200, body_contains: up }} }} }}
  note: {{ kind: exec, with: {{ argv: [echo, noted] }} }}
  ready: {{ kind: wait, with: {{ until: {{ "steps.probe.outputs.status": 200, "steps.note.outputs.stdout": "== noted" }}, deadline: 20s, poll: 50ms }} }}
finally:
  keep: {{ kind: collect, with: {{ paths: ["{d}/*.log"] }} }}
""")
            data = os.path.join(d, "data")
            out = os.path.join(d, "r.json")
            r = run_drone("run", flow, "--json", out, "--data-dir", data, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            result = load_json(out)
            validate_result(result)
            steps = {s["id"]: s for s in result["steps"]}
            self.assertEqual(steps["probe"]["outputs"]["status"], 200)
            self.assertEqual(steps["ready"]["outputs"]["satisfied"], True)
            run_dir = os.path.join(data, "runs", result["run_id"], "keep")
            arts = {a["name"]: a for a in result["artifacts"]}
            self.assertEqual(set(arts), {"app.log", "logs/note.stdout", "logs/note.stderr"})
            self.assertEqual(set(result["artifacts"][0]), {"step", "name", "path", "bytes"})
            self.assertEqual(arts["app.log"]["path"], os.path.join(run_dir, "app.log"))
            self.assertEqual(arts["app.log"]["bytes"], 9)
            self.assertEqual(arts["logs/note.stdout"]["step"], "note")
            with open(os.path.join(run_dir, "logs", "note.stdout")) as f:
                self.assertEqual(f.read(), "noted")

    def test_http_failure_names_the_status(self):
        with TempDir() as d:
            flow = write_flow(d, "f.yaml", f"""name: steps
steps:
  probe: {{ kind: http, with: {{ url: "{self.base}/missing", deadline: 300ms, interval: 100ms }} }}
""")
            out = os.path.join(d, "r.json")
            r = run_drone("run", flow, "--json", out, "--no-store", timeout=60)
            self.assertNotEqual(r.returncode, 0)
            step = load_json(out)["steps"][0]
            self.assertEqual(step["status"], "failed")
            self.assertIn("status 404, expected 2xx", step["error"])
            self.assertGreater(step["outputs"]["attempts"], 1)

    def test_without_the_store_the_run_directory_is_removed(self):
        with TempDir() as d:
            flow = write_flow(d, "f.yaml", """name: steps
steps:
  note: { kind: exec, with: { argv: [echo, hi] } }
  keep: { kind: collect, needs: [note] }
""")
            out = os.path.join(d, "r.json")
            r = run_drone("run", flow, "--json", out, "--no-store", timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            result = load_json(out)
            self.assertEqual(len(result["artifacts"]), 2)
            run_dir = os.path.join(tempfile.gettempdir(), "drone-run-" + result["run_id"])
            self.assertTrue(result["artifacts"][0]["path"].startswith(run_dir))
            self.assertFalse(os.path.exists(run_dir))

    def test_bad_http_and_wait_fields_are_bad_input(self):
        with TempDir() as d:
            flow = write_flow(d, "f.yaml", """name: steps
steps:
  probe: { kind: http, with: { url: "https://example.invalid/" } }
  w: { kind: wait, with: { until: { "steps.probe.outputs.status": "< soon" }, deadline: 1s } }
""")
            r = run_drone("run", flow, "--no-store", timeout=60)
            self.assertEqual(r.returncode, 2)
            self.assertIn("f.yaml:3:", r.stderr)
            self.assertIn("https is not supported", r.stderr)
            self.assertIn("f.yaml:4:", r.stderr)


class EachStepTest(unittest.TestCase):
    """flows/each-node-probe.yaml: one exec per node of a cluster, two at a time, then gathered."""

    def test_each_node_probe_runs_once_per_node_and_gathers(self):
        with TempDir() as d:
            out = os.path.join(d, "r.json")
            r = run_drone("run", os.path.join(FLOWS, "each-node-probe.yaml"), "--no-store",
                          "--no-progress", "--json", out, timeout=180)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            result = load_json(out)
            validate_result(result)
            steps = {s["id"]: s for s in result["steps"]}
            self.assertEqual(steps["all_up"]["status"], "succeeded")
            fan = steps["per_node"]["outputs"]
            addresses = steps["kafka"]["outputs"]["addresses"]
            self.assertEqual(len(addresses), 3)
            self.assertEqual(fan["items"], addresses)
            self.assertEqual((fan["count"], fan["succeeded"], fan["failed"]), (3, 3, 0))
            self.assertEqual([x["stdout"] for x in fan["results"]],
                             ["node %d listens on %s" % (i, a) for i, a in enumerate(addresses)])

    def test_a_failing_iteration_fails_the_step_and_is_counted(self):
        with TempDir() as d:
            flow = write_flow(d, "f.yaml", """name: each-fail
steps:
  fan:
    kind: each
    on_error: continue
    with:
      items: [0, 3, 0]
      step: { kind: exec, with: { argv: [test, "${{ each.item }}", "-eq", "0"] } }
  after:
    kind: exec
    needs: [fan.done]
    with: { argv: [echo, "${{ steps.fan.outputs.succeeded }}/${{ steps.fan.outputs.failed }}"] }
""")
            out = os.path.join(d, "r.json")
            r = run_drone("run", flow, "--no-store", "--no-progress", "--json", out, timeout=120)
            result = load_json(out)
            steps = {s["id"]: s for s in result["steps"]}
            self.assertEqual(steps["fan"]["status"], "failed", r.stdout + r.stderr)
            self.assertIn("1 of 3 iterations failed", steps["fan"]["error"])
            self.assertEqual(steps["fan"]["outputs"]["statuses"], ["succeeded", "failed", "succeeded"])
            self.assertEqual(steps["after"]["outputs"]["stdout"], "2/1")

    def test_validate_reports_template_errors(self):
        with TempDir() as d:
            flow = write_flow(d, "f.yaml", """name: each-bad
steps:
  fan:
    kind: each
    with:
      items: [a]
      step: { kind: exec, with: { argv: [echo, "${{ each.itme }}"], colour: red } }
""")
            r = run_drone("validate", flow, timeout=60)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("f.yaml:7:", r.stderr)
            self.assertIn("steps.fan.with.step.with.colour: unknown key 'colour'", r.stderr)
            self.assertIn("each.itme", r.stderr)


if __name__ == "__main__":
    unittest.main()
