"""Standing environments: drone up leaves the set-up steps running, status lists them, down ends them."""
import json
import os
import shutil
import signal
import unittest

from drone_test_support import FLOWS, TempDir, alive, run_drone, write_flow, wait_for




def listing(directory):
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def holders():
    """Pids of every live `drone __hold` process on the machine."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    argv = f.read().split(b"\0")
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            if len(argv) > 1 and argv[1] == b"__hold" and alive(int(name)):
                out.append(int(name))
    return out


NATS_FLOW = """name: one-nats
steps:
  nats: { kind: cluster, with: { broker: nats, platform: local, nodes: 1 } }
  load: { kind: workload, needs: [nats], with: { topic: t, messages: 10 } }
"""


class StandingEnvironmentTest(unittest.TestCase):
    def setUp(self):
        self._tmp = TempDir()
        self.dir = self._tmp.__enter__()
        self.data = os.path.join(self.dir, "data")
        self.tmp = os.path.join(self.dir, "tmp")  # TMPDIR: where local servers' run dirs go
        os.mkdir(self.tmp)
        self.env = dict(os.environ, TMPDIR=self.tmp)
        self.holders = []

    def tearDown(self):
        # Whatever a failed assertion left up goes down.
        run_drone("down", "--all", "--data-dir", self.data, timeout=120, env=self.env)
        for pid in self.holders:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        run_drone("clean", "--data-dir", self.data, timeout=120, env=self.env)
        self._tmp.__exit__(None, None, None)

    def up(self, *args):
        r = run_drone("up", *args, "--data-dir", self.data, "--json", timeout=300, env=self.env)
        if r.returncode == 0:
            env = json.loads(r.stdout)
            self.holders.append(env["pid"])
            return r, env
        return r, None

    def status(self):
        r = run_drone("status", "--data-dir", self.data, "--json", timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["environments"]

    def assert_nothing_left(self):
        self.assertEqual(listing(os.path.join(self.data, "envs")), [])
        self.assertEqual(listing(os.path.join(self.data, "journal")), [])
        self.assertEqual(listing(os.path.join(self.data, "runs")), [])
        self.assertEqual(listing(self.tmp), [])
        self.assertEqual(self.status(), [])

    def test_up_run_against_it_status_down_leaves_nothing(self):
        r, env = self.up(os.path.join(FLOWS, "standing-kafka.yaml"), "--name", "kafka1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # Only the set-up steps ran: the cluster and the topic, not the load or its check.
        self.assertEqual(env["steps"], ["kafka", "orders"])
        bootstrap = env["outputs"]["kafka"]["bootstrap"]
        self.assertRegex(bootstrap, r"^127\.0\.0\.1:\d+")
        holder = env["pid"]
        self.assertTrue(alive(holder))
        self.assertIn(holder, holders())
        # up returned: the holder is not its child (its own session) and outlives it.
        self.assertEqual(os.getsid(holder), holder)

        envs = self.status()
        self.assertEqual([(e["name"], e["flow"], e["pid"], e["alive"]) for e in envs],
                         [("kafka1", "standing-kafka", holder, True)])
        self.assertEqual(envs[0]["outputs"]["kafka"]["bootstrap"], bootstrap)
        self.assertEqual(len(listing(os.path.join(self.data, "journal"))), 1)

        # Another flow uses the standing cluster, and its topic, as an external one.
        use = run_drone("run", os.path.join(FLOWS, "external-produce.yaml"), "-p",
                        "bootstrap=" + bootstrap, "-p", "topic=orders", "-p", "messages=500", "-p",
                        "consumers=1", "--no-store", "--json", os.path.join(self.dir, "r.json"),
                        timeout=180)
        self.assertEqual(use.returncode, 0, use.stdout + use.stderr)
        with open(os.path.join(self.dir, "r.json")) as f:
            result = json.load(f)
        self.assertEqual(result["workloads"]["load"]["acked"], 500)
        self.assertEqual(result["workloads"]["load"]["received"], 500)
        self.assertEqual(result["workloads"]["load"]["delivery"]["lost"], 0)

        # clean leaves a live environment alone.
        clean = run_drone("clean", "--data-dir", self.data, timeout=60)
        self.assertEqual(clean.returncode, 0, clean.stdout + clean.stderr)
        self.assertIn("left alone", clean.stdout)
        self.assertTrue(alive(holder))
        self.assertEqual([e["alive"] for e in self.status()], [True])

        down = run_drone("down", "kafka1", "--data-dir", self.data, timeout=120)
        self.assertEqual(down.returncode, 0, down.stdout + down.stderr)
        self.assertTrue(wait_for(lambda: not alive(holder), 10))
        self.assertNotIn(holder, holders())
        self.assert_nothing_left()

    @unittest.skipUnless(shutil.which("nats-server"), "nats-server is not installed (make setup)")
    def test_the_holder_owns_local_servers_and_down_undoes_a_dead_ones_journal(self):
        flow = write_flow(self.dir, "nats.yaml", NATS_FLOW)
        r, env = self.up(flow, "--name", "n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(env["steps"], ["nats"])
        holder = env["pid"]
        server = env["outputs"]["nats"]["pids"][0]
        self.assertTrue(alive(server))
        run_dirs = listing(self.tmp)
        self.assertEqual(len(run_dirs), 1, run_dirs)
        self.assertTrue(run_dirs[0].startswith("drone-nats-"), run_dirs)

        # A holder killed outright cannot tear down: what it made stays, in its journal (its
        # servers die with it: they are started with a parent-death signal).
        os.kill(holder, signal.SIGKILL)
        self.assertTrue(wait_for(lambda: not alive(holder), 10))
        self.assertEqual([e["alive"] for e in self.status()], [False])
        self.assertEqual(listing(self.tmp), run_dirs)
        journal_files = listing(os.path.join(self.data, "journal"))
        self.assertEqual(len(journal_files), 1)
        with open(os.path.join(self.data, "journal", journal_files[0])) as f:
            kinds = [json.loads(line).get("kind") for line in f if line.strip()]
        self.assertIn("process-group", kinds)
        self.assertIn("path", kinds)

        down = run_drone("down", "n", "--data-dir", self.data, timeout=120, env=self.env)
        self.assertEqual(down.returncode, 0, down.stdout + down.stderr)
        self.assertIn("dead", down.stdout)
        self.assertTrue(wait_for(lambda: not alive(server), 10))
        self.assert_nothing_left()

    @unittest.skipUnless(shutil.which("nats-server"), "nats-server is not installed (make setup)")
    def test_clean_undoes_and_forgets_a_dead_environment(self):
        flow = write_flow(self.dir, "nats.yaml", NATS_FLOW)
        r, env = self.up(flow, "--name", "n2")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        server = env["outputs"]["nats"]["pids"][0]
        os.kill(env["pid"], signal.SIGKILL)
        self.assertTrue(wait_for(lambda: not alive(env["pid"]), 10))
        self.assertEqual(len(listing(self.tmp)), 1)  # the server's run directory, journaled
        clean = run_drone("clean", "--data-dir", self.data, timeout=120, env=self.env)
        self.assertEqual(clean.returncode, 0, clean.stdout + clean.stderr)
        self.assertIn("n2 (holder dead): forgotten", clean.stdout)
        self.assertTrue(wait_for(lambda: not alive(server), 10))
        self.assert_nothing_left()

    def test_bad_input_leaves_nothing(self):
        before = holders()
        flow = write_flow(self.dir, "none.yaml", """name: nothing-to-set-up
steps:
  nap: { kind: sleep, with: { duration: 1s } }
""")
        r, _ = self.up(flow)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("no set-up steps", r.stderr)
        flow = write_flow(self.dir, "typo.yaml", """name: typo
steps:
  kafka: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 1, colour: red } }
""")
        r, _ = self.up(flow)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("typo.yaml:3:", r.stderr)
        self.assertIn("colour", r.stderr)
        # Bad input only the holder can find (nothing answers there): still exit 2.
        flow = write_flow(self.dir, "unreachable.yaml", """name: unreachable
steps:
  kafka: { kind: cluster, with: { broker: kafka, platform: external, bootstrap: "127.0.0.1:1" } }
""")
        r, _ = self.up(flow)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("cannot reach kafka at 127.0.0.1:1", r.stderr)
        self.assertIn("nothing was left running", r.stderr)
        r, _ = self.up(os.path.join(FLOWS, "standing-kafka.yaml"), "--name", "no/slash")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("--name", r.stderr)
        down = run_drone("down", "nobody", "--data-dir", self.data, timeout=60)
        self.assertEqual(down.returncode, 2, down.stdout + down.stderr)
        self.assertIn("drone status", down.stderr)
        self.assertEqual(holders(), before)
        self.assert_nothing_left()

    def test_help_explains_up_down_status(self):
        for cmd, words in (("up", "set-up steps"), ("down", "holder"), ("status", "alive")):
            r = run_drone(cmd, "--help", timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(words, r.stdout)
        top = run_drone("--help", timeout=30)
        for cmd in ("up", "down", "status"):
            self.assertRegex(top.stdout, r"\n  %s +" % cmd)
        self.assertNotIn("__hold", top.stdout)


if __name__ == "__main__":
    unittest.main()
