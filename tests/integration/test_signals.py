"""Signals: SIGINT and SIGTERM mid-run tear everything down; a second SIGINT hurries."""
import json
import os
import signal
import subprocess
import threading
import unittest

import drone_test_support
from drone_test_support import (DRONE, FLOWS, TempDir, alive, group_members, load_json,
                                validate_result, write_flow)


# This suite polls every 20 ms.
def wait_for(predicate, timeout=30.0):
    return drone_test_support.wait_for(predicate, timeout, interval=0.02)


class Run:
    """A `drone run` in the background whose stderr is collected line by line."""

    def __init__(self, *args, env=None):
        self.proc = subprocess.Popen([DRONE, "run", *args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        self.lines = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._watchdog = threading.Timer(120, self.proc.kill)
        self._watchdog.start()

    def _read(self):
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line)

    def saw(self, text):
        with self._lock:
            return any(text in line for line in self.lines)

    def finish(self):
        try:
            self.proc.stdout.read()
            self.proc.wait(timeout=100)
        finally:
            self._watchdog.cancel()
            self._reader.join(timeout=10)
        return self.proc.returncode, "".join(self.lines)


# An exec step whose whole process group ignores SIGTERM, so only SIGKILL ends it.
STUBBORN_FLOW = """name: stubborn
steps:
  stubborn:
    kind: exec
    with: {{ argv: [/bin/sh, -c, "trap '' TERM; touch {mark}; sleep 30 & wait"] }}
finally:
  bye: {{ kind: exec, with: {{ argv: [/bin/echo, bye] }} }}
"""


# An exec step that leaves a background child in its process group and records its pid.
LEAVER_FLOW = """name: leaver
steps:
  leaver:
    kind: exec
    with: {{ argv: [/bin/sh, -c, "sleep 300 & echo $! > {pidfile}; wait"] }}
"""




def journals(data):
    d = os.path.join(data, "journal")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def read_journal(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class SignalTest(unittest.TestCase):
    def interrupt_leaves_nothing(self, sig):
        with TempDir() as d:
            data = os.path.join(d, "data")
            tmp = os.path.join(d, "tmp")
            os.mkdir(tmp)
            pidfile = os.path.join(d, "pid")
            flow = write_flow(d, "leaver.yaml", LEAVER_FLOW.format(pidfile=pidfile))
            out = os.path.join(d, "r.json")
            run = Run(flow, "--json", out, "--data-dir", data, env=dict(os.environ, TMPDIR=tmp))
            self.assertTrue(wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read().strip()))
            sleeper = int(open(pidfile).read())
            # While the run lives, its journal names the exec step's process group...
            files = journals(data)
            self.assertEqual(len(files), 1, files)
            entries = read_journal(os.path.join(data, "journal", files[0]))
            self.assertEqual(entries[0]["t"], "owner")
            self.assertEqual(entries[0]["pid"], run.proc.pid)
            groups = [e["args"]["pgid"] for e in entries if e.get("kind") == "process-group"]
            self.assertEqual(len(groups), 1, entries)
            self.assertIn(sleeper, group_members(groups[0]))
            # ...and `drone clean` leaves a live run alone.
            clean = subprocess.run([DRONE, "clean", "--data-dir", data, "--json"], capture_output=True,
                                   text=True, timeout=60)
            self.assertEqual(clean.returncode, 0, clean.stderr)
            report = json.loads(clean.stdout)
            self.assertEqual([j["alive"] for j in report["journals"]], [True])
            self.assertEqual(report["journals"][0]["actions"], [])
            self.assertTrue(alive(sleeper))

            run.proc.send_signal(sig)
            code, stderr = run.finish()
            self.assertEqual(code, 3, stderr)
            result = load_json(out)
            self.assertTrue(result["reasons"][0].startswith("interrupted by"), result["reasons"])
            self.assertEqual(group_members(groups[0]), [], "the exec step's process group is gone")
            self.assertFalse(alive(sleeper))
            self.assertEqual(journals(data), [], "no journal entry is left")
            self.assertEqual(os.listdir(tmp), [], "no temp dir is left")

    def test_clean_help_explains_the_journal(self):
        r = subprocess.run([DRONE, "clean", "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        for word in ("--dry-run", "--data-dir", "--json", "journal", "SIGKILL"):
            self.assertIn(word, r.stdout)

    def test_sigint_mid_run_leaves_no_process_journal_or_temp_dir(self):
        self.interrupt_leaves_nothing(signal.SIGINT)

    def test_sigterm_mid_run_leaves_no_process_journal_or_temp_dir(self):
        self.interrupt_leaves_nothing(signal.SIGTERM)

    def test_clean_removes_what_a_sigkilled_run_left(self):
        with TempDir() as d:
            data = os.path.join(d, "data")
            pidfile = os.path.join(d, "pid")
            flow = write_flow(d, "leaver.yaml", LEAVER_FLOW.format(pidfile=pidfile))
            run = Run(flow, "--data-dir", data, "--no-store")
            self.assertTrue(wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read().strip()))
            sleeper = int(open(pidfile).read())
            run.proc.kill()
            run.finish()
            # The shell died with Drone (PDEATHSIG); the background sleep did not.
            self.assertTrue(alive(sleeper))
            self.assertEqual(len(journals(data)), 1)

            dry = subprocess.run([DRONE, "clean", "--data-dir", data, "--dry-run"], capture_output=True,
                                 text=True, timeout=60)
            self.assertEqual(dry.returncode, 0, dry.stderr)
            self.assertIn("would stop process group", dry.stdout)
            self.assertTrue(alive(sleeper), "a dry run changes nothing")
            self.assertEqual(len(journals(data)), 1)

            clean = subprocess.run([DRONE, "clean", "--data-dir", data, "--json"], capture_output=True,
                                   text=True, timeout=60)
            self.assertEqual(clean.returncode, 0, clean.stderr)
            report = json.loads(clean.stdout)
            self.assertEqual(len(report["journals"]), 1)
            j = report["journals"][0]
            self.assertFalse(j["alive"])
            self.assertEqual([(a["kind"], a["ok"]) for a in j["actions"]], [("process-group", True)])
            self.assertIn("stopped process group", j["actions"][0]["done"])
            self.assertTrue(wait_for(lambda: not alive(sleeper), timeout=10))
            self.assertEqual(journals(data), [])
            again = subprocess.run([DRONE, "clean", "--data-dir", data], capture_output=True, text=True,
                                   timeout=60)
            self.assertIn("nothing to clean", again.stdout)

    def test_second_sigint_hurries_yet_teardown_and_finally_run(self):
        with TempDir() as d:
            mark = os.path.join(d, "started")
            flow = write_flow(d, "stubborn.yaml", STUBBORN_FLOW.format(mark=mark))
            out = os.path.join(d, "r.json")
            run = Run(flow, "--json", out, "--data-dir", os.path.join(d, "data"))
            self.assertTrue(wait_for(lambda: os.path.exists(mark)), "the exec step never started")
            run.proc.send_signal(signal.SIGINT)
            self.assertTrue(wait_for(lambda: run.saw("SIGINT received")))
            run.proc.send_signal(signal.SIGINT)
            code, stderr = run.finish()
            self.assertEqual(code, 3, stderr)
            self.assertIn("hurrying", stderr)
            result = load_json(out)
            steps = {s["id"]: s for s in result["steps"]}
            self.assertEqual(steps["stubborn"]["status"], "cancelled")
            self.assertIn("hurried, SIGKILL at once", steps["stubborn"]["error"])
            self.assertEqual(steps["bye"]["status"], "succeeded")
            self.assertEqual(steps["bye"]["outputs"]["stdout"], "bye")
            self.assertEqual(result["events"][-1]["type"], "RUN_END")


class FailingStepCleanupTest(unittest.TestCase):
    def test_undo_then_finally_run_in_order_after_a_middle_step_fails(self):
        with TempDir() as d:
            out = os.path.join(d, "r.json")
            data = os.path.join(d, "data")
            r = subprocess.run([DRONE, "run", os.path.join(FLOWS, "failing-step-cleanup.yaml"), "--json", out,
                                "--data-dir", data], capture_output=True, text=True, timeout=300,
                               stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
            result = load_json(out)
            validate_result(result)
            steps = {s["id"]: s for s in result["steps"]}
            self.assertEqual(steps["broken"]["status"], "failed")
            self.assertIn("simulated failure", steps["broken"]["error"])
            self.assertEqual(steps["slow"]["status"], "cancelled")
            self.assertNotEqual(steps["never"]["status"], "succeeded")
            self.assertEqual(steps["report"]["status"], "succeeded")
            self.assertTrue(steps["report"]["finally"])
            events = [(e["type"], e.get("step", ""), e.get("message", "")) for e in result["events"]]

            def index(type_, step, message_part=""):
                for i, (t, s, m) in enumerate(events):
                    if t == type_ and s == step and message_part in m:
                        return i
                self.fail("no %s %s %r in %s" % (type_, step, message_part, events))

            failed = index("STEP_FAILURE", "broken")
            heal = index("UNDO", "slow", "heal")
            stop = index("UNDO", "cluster", "stop cluster")
            final_start = index("STEP_START", "report")
            final_end = index("STEP_SUCCESS", "report")
            self.assertLess(index("FAULT_INJECTED", "slow"), failed)
            self.assertLess(failed, heal)
            self.assertLess(heal, stop, "undo runs newest first: the fault, then the cluster")
            self.assertLess(stop, final_start, "finally steps run after the undo actions")
            self.assertLess(final_start, final_end)
            self.assertEqual(events[-1][0], "RUN_END")
            self.assertEqual(result["faults"][0]["step"], "slow")
            self.assertIsNotNone(result["faults"][0]["end"])
            self.assertEqual(journals(data), [])


if __name__ == "__main__":
    unittest.main()
