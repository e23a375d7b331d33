"""Bad input: one clear message per problem (file:line:col, field), exit code 2, nothing started."""
import unittest

from drone_test_support import TempDir, run_drone, write_flow

GOOD_HEAD = """name: t
steps:
  cluster: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 3 } }
"""


class BadInputTest(unittest.TestCase):
    def assert_rejected(self, text, *expected, command="run"):
        with TempDir() as d:
            path = write_flow(d, "flow.yaml", text)
            r = run_drone(command, path, timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            for e in expected:
                self.assertIn(e, r.stderr)
            # Nothing was started: the run banner comes only after validation.
            self.assertNotIn("running", r.stderr)
            self.assertIn("nothing was started", r.stderr)
            return r.stderr

    def test_unknown_field_names_line_and_suggests(self):
        err = self.assert_rejected(GOOD_HEAD + """  topic:
    kind: topic
    needs: [cluster]
    with: { name: x, partitons: 3 }
""", "flow.yaml:7:", "partitons", "partitions")
        self.assertIn("steps.topic.with.partitons", err)

    def test_yaml_syntax_error_has_position(self):
        self.assert_rejected("name: t\nsteps:\n  a: { kind: cluster\n", "flow.yaml:")

    def test_wrong_type_and_bad_duration_are_reported_together(self):
        err = self.assert_rejected(GOOD_HEAD + """  topic: { kind: topic, needs: [cluster], with: { name: x } }
  load:
    kind: workload
    needs: [topic]
    with: { topic: x, rate: fast, duration: 10 }
""", "rate", "duration")
        self.assertIn("2 problems", err)

    def test_unknown_need_and_missing_required(self):
        self.assert_rejected(GOOD_HEAD + """  topic: { kind: topic, needs: [clustr], with: { partitions: 3 } }
""", "clustr", "name")

    def test_validate_command_uses_the_same_checks(self):
        self.assert_rejected(GOOD_HEAD + "  x: { kind: nosuchkind }\n", "nosuchkind", command="validate")

    def test_bad_expectation_field(self):
        self.assert_rejected(GOOD_HEAD + """  topic: { kind: topic, needs: [cluster], with: { name: x } }
  load: { kind: workload, needs: [topic], with: { topic: x, messages: 10 } }
  verify: { kind: check, needs: [load], with: { expect: { lots: 0 } } }
""", "lots")

    def test_unknown_parameter_override(self):
        with TempDir() as d:
            path = write_flow(d, "flow.yaml", GOOD_HEAD)
            r = run_drone("run", path, "-p", "nope=1", timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("nope", r.stderr)

    def test_unreachable_broker_is_bad_input(self):
        with TempDir() as d:
            path = write_flow(d, "flow.yaml", """name: t
steps:
  cluster: { kind: cluster, with: { broker: kafka, platform: external, bootstrap: "127.0.0.1:1" } }
  load: { kind: workload, needs: [cluster], with: { topic: t, messages: 10 } }
""")
            r = run_drone("run", path, timeout=120)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("flow.yaml:3:3: steps.cluster: cannot reach kafka at 127.0.0.1:1", r.stdout)
            self.assertIn("check the address", r.stdout)
            self.assertNotIn("STEP_START      load", r.stderr)

    def test_link_faults_on_the_embedded_cluster_need_a_lab(self):
        fault = """  topic: { kind: topic, needs: [cluster], with: { name: x } }
  load: { kind: workload, needs: [topic], background: true, with: { topic: x, duration: 5s } }
"""
        self.assert_rejected(GOOD_HEAD + fault + """  slow:
    kind: fault.network
    needs: [load.started]
    with: { from: clients, to: brokers, delay: 10ms, duration: 1s }
""", "steps.slow.with", "network: lab")
        self.assert_rejected(GOOD_HEAD + fault + """  split:
    kind: fault.partition
    needs: [load.started]
    with: { partition: isolate, nodes: [broker-1], duration: 1s }
""", "steps.split.kind", "network: lab")
        self.assert_rejected("""name: t
steps:
  cluster: { kind: cluster, with: { broker: kafka, platform: external, bootstrap: "127.0.0.1:1",
                                    network: lab } }
""", "steps.cluster.with.network", "only used with platform: local or embedded")

    def test_missing_file_and_bad_flags(self):
        r = run_drone("run", "/nonexistent/flow.yaml", timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/flow.yaml", r.stderr)
        r = run_drone("run", timeout=60)
        self.assertEqual(r.returncode, 2)
        r = run_drone("frobnicate", timeout=60)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
