"""Signals: SIGINT and SIGTERM mid-run tear everything down; a second SIGINT hurries."""
import os
import signal
import subprocess
import threading
import time
import unittest

from drone_test_support import DRONE, TempDir, load_json, write_flow


def wait_for(predicate, timeout=30.0):
    """Polls `predicate` until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.02)


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


class SignalTest(unittest.TestCase):
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


if __name__ == "__main__":
    unittest.main()
