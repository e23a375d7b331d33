"""`drone schema`: the JSON Schema of the flow format. Every example flow validates against it, and
files the loader rejects fail it too (each bad file is also checked with `drone validate`, so the
schema and the parser are seen to agree)."""
import glob
import json
import os
import unittest

import jsonschema
import yaml

from drone_test_support import FLOWS, TempDir, run_drone, write_flow

VALID_WITH_EXPRESSIONS = """name: exprs
params: { nodes: 3, rate: 500, acks: all, wait: 1s }
steps:
  cluster: { kind: cluster, with: { nodes: "${{ params.nodes }}" } }
  topic: { kind: topic, needs: [cluster], with: { name: t, partitions: 2 } }
  load:
    kind: workload
    needs: [topic]
    with: { topic: "${{ steps.topic.outputs.name }}", rate: "${{ params.rate }}",
            acks: "${{ params.acks }}", messages: 10, size: { distribution: uniform, min: 100, max: 1KiB } }
  pause: { kind: sleep, needs: [load], with: { duration: "${{ params.wait }}" } }
  probe: { kind: exec, needs: [pause], with: { argv: [/bin/echo, "${{ steps.topic.outputs.name }}"] } }
  verify: { kind: check, needs: [load], with: { expect: { lost: 0, "latency.end_to_end.p99": "< 2s" } } }
finally:
  done: { kind: sleep, with: { duration: 10ms } }
"""

BASE = """name: bad
steps:
  cluster: { kind: cluster }
  topic: { kind: topic, needs: [cluster], with: { name: t } }
"""

# Each a flow that the loader rejects, and what makes it wrong.
MALFORMED = {
    "unknown top-level key": "name: bad\nstage: 1\nsteps:\n  s: { kind: sleep, with: { duration: 1s } }\n",
    "unknown step key": BASE + "  s: { kind: sleep, wait: 1s, with: { duration: 1s } }\n",
    "unknown kind": BASE + "  s: { kind: nap, with: { duration: 1s } }\n",
    "key of another kind": BASE + "  s: { kind: sleep, with: { duration: 1s, argv: [x] } }\n",
    "missing required with": BASE + "  s: { kind: exec }\n",
    "missing required field": BASE + "  s: { kind: fault.partition, needs: [topic], with: { nodes: [broker-1] } }\n",
    "integer out of range": "name: bad\nsteps:\n  cluster: { kind: cluster, with: { nodes: 40 } }\n",
    "wrong type": "name: bad\nsteps:\n  cluster: { kind: cluster, with: { nodes: three } }\n",
    "duration without unit": BASE + "  s: { kind: sleep, with: { duration: 10 } }\n",
    "bad enum": BASE + "  s: { kind: sleep, on_error: ignore, with: { duration: 1s } }\n",
    "step output in a typed field": BASE + "  s: { kind: sleep, needs: [topic], with: { duration: \"${{ steps.topic.outputs.name }}\" } }\n",
    "expression in a parameter default": "name: bad\nparams: { a: \"${{ params.b }}\", b: 1 }\nsteps:\n  s: { kind: sleep, with: { duration: 1s } }\n",
    "no steps": "name: bad\nsteps: {}\n",
    "matrix value not a list": "name: bad\nparams: { a: 1 }\nmatrix: { a: 1 }\nsteps:\n  s: { kind: sleep, with: { duration: 1s } }\n",
    "matrix value twice": "name: bad\nparams: { a: 1 }\nmatrix: { a: [1, 1] }\nsteps:\n  s: { kind: sleep, with: { duration: 1s } }\n",
    "missing name": "steps:\n  s: { kind: sleep, with: { duration: 1s } }\n",
}


class SchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        r = run_drone("schema", timeout=30)
        if r.returncode != 0:
            raise AssertionError("drone schema failed: " + r.stderr)
        cls.schema = json.loads(r.stdout)
        cls.validator = jsonschema.Draft202012Validator(cls.schema)

    def errors(self, text):
        return list(self.validator.iter_errors(yaml.safe_load(text)))

    def test_is_a_valid_draft_2020_12_schema(self):
        self.assertEqual(self.schema["$schema"], "https://json-schema.org/draft/2020-12/schema")
        jsonschema.Draft202012Validator.check_schema(self.schema)
        self.assertFalse(self.schema["additionalProperties"])

    def test_every_example_flow_validates(self):
        files = sorted(glob.glob(os.path.join(FLOWS, "*.yaml")))
        self.assertGreater(len(files), 0)
        for path in files:
            with self.subTest(flow=os.path.basename(path)):
                with open(path) as f:
                    errors = self.errors(f.read())
                self.assertEqual([e.message for e in errors], [])

    def test_expressions_validate_where_the_loader_allows_them(self):
        self.assertEqual([e.message for e in self.errors(VALID_WITH_EXPRESSIONS)], [])
        with TempDir() as d:
            r = run_drone("validate", write_flow(d, "exprs.yaml", VALID_WITH_EXPRESSIONS), timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_malformed_flows_fail_the_schema_and_the_loader(self):
        with TempDir() as d:
            for what, text in MALFORMED.items():
                with self.subTest(what):
                    self.assertNotEqual(self.errors(text), [], "the schema accepted: " + text)
                    r = run_drone("validate", write_flow(d, "bad.yaml", text), timeout=30)
                    self.assertEqual(r.returncode, 2, what + ": the loader accepted it: " + r.stdout)


if __name__ == "__main__":
    unittest.main()
