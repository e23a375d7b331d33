"""The local platform journals what it starts: drone clean undoes what a SIGKILLed run left."""
import json
import os
import shutil
import signal
import subprocess
import threading
import unittest

from drone_test_support import DRONE, FLOWS, TempDir, alive, group_members, wait_for






def open_entries(path):
    """The entries of a journal that are added and not done."""
    entries, done = [], set()
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            e = json.loads(line)
            if e["t"] == "add":
                entries.append(e)
            elif e["t"] == "done":
                done.add(e["id"])
    return [e for e in entries if e["id"] not in done]


@unittest.skipUnless(shutil.which("nats-server"), "nats-server is not installed (make setup)")
class LocalJournalTest(unittest.TestCase):
    def test_clean_removes_what_a_sigkilled_nats_node_kill_left(self):
        with TempDir() as d:
            data = os.path.join(d, "data")
            tmp = os.path.join(d, "tmp")
            os.mkdir(tmp)
            env = dict(os.environ, TMPDIR=tmp)
            proc = subprocess.Popen(
                [DRONE, "run", os.path.join(FLOWS, "nats-node-kill.yaml"), "-p", "rate=200",
                 "-p", "duration=60s", "--data-dir", data, "--no-store", "--no-progress"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True, env=env)
            lines = []
            reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
            reader.start()
            try:
                self.assertTrue(wait_for(lambda: any("STEP_START" in l and "load" in l for l in lines),
                                         120), "".join(lines))
                journal_dir = os.path.join(data, "journal")
                files = os.listdir(journal_dir)
                self.assertEqual(len(files), 1, files)
                journal = os.path.join(journal_dir, files[0])
                entries = open_entries(journal)
                # Journaled while the cluster runs: its run directory and one process group per node.
                paths = [e["args"]["path"] for e in entries if e["kind"] == "path"]
                groups = [e["args"]["pgid"] for e in entries if e["kind"] == "process-group"]
                self.assertEqual(len(paths), 1, entries)
                self.assertEqual(len(groups), 3, entries)
                self.assertTrue(os.path.isdir(paths[0]))
                self.assertEqual(os.path.dirname(paths[0]), tmp)
                for g in groups:
                    self.assertTrue(group_members(g), "node group %d is not running" % g)
            finally:
                proc.kill()  # SIGKILL: no teardown can run
                proc.wait(timeout=30)
                reader.join(timeout=10)
            # Left behind: the journal, with its entries open, and the run directory.
            left = open_entries(journal)
            self.assertEqual([e for e in left if e["kind"] == "path"],
                             [e for e in entries if e["kind"] == "path"])
            self.assertGreaterEqual(len([e for e in left if e["kind"] == "process-group"]), 2, left)
            self.assertTrue(os.path.isdir(paths[0]))

            clean = subprocess.run([DRONE, "clean", "--data-dir", data, "--json"],
                                   capture_output=True, text=True, timeout=120, env=env)
            self.assertEqual(clean.returncode, 0, clean.stdout + clean.stderr)
            report = json.loads(clean.stdout)
            self.assertEqual(len(report["journals"]), 1)
            actions = report["journals"][0]["actions"]
            self.assertEqual(sorted(a["kind"] for a in actions), sorted(e["kind"] for e in left))
            self.assertTrue(all(a["ok"] for a in actions), actions)
            # Nothing is left: no journal, no run directory, no server process.
            self.assertEqual(os.listdir(journal_dir), [])
            self.assertEqual(os.listdir(tmp), [])
            for e in left:
                if e["kind"] == "process-group":
                    g = e["args"]["pgid"]
                    self.assertTrue(wait_for(lambda: not group_members(g), 10), "group %d lives" % g)


if __name__ == "__main__":
    unittest.main()
