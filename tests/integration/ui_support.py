"""Starting `drone ui` for a test: an ephemeral port, a temp data dir, the URL it prints."""
import json
import os
import queue
import signal
import subprocess
import threading
import urllib.request

from drone_test_support import DRONE


class UiServer:
    """`drone ui` as a child process; stop() sends SIGTERM and waits for it."""

    def __init__(self, data_dir, flows_dir, *extra, timeout=30):
        self.proc = subprocess.Popen(
            [DRONE, "ui", "--port", "0", "--data-dir", data_dir, "--flows", flows_dir, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in self.proc.stdout], daemon=True).start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise AssertionError("drone ui printed no address within %ds" % timeout)
        # "drone ui: serving on http://127.0.0.1:PORT/ (runs in ...)"
        self.url = line.split("serving on ", 1)[1].split(" ", 1)[0].split("?")[0].rstrip("/")

    def get(self, path, headers=None):
        req = urllib.request.Request(self.url + path, headers=headers or {})
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.loads(res.read())

    def post(self, path, body, headers=None):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **(headers or {})},
                                     method="POST")
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read())

    def stream_until_end(self, run_id, timeout=180):
        """Reads the run's SSE stream until its `end` message; returns [(event, data)]."""
        messages = []
        with urllib.request.urlopen(self.url + "/api/runs/%s/stream" % run_id, timeout=timeout) as res:
            event, data = None, None
            for raw in res:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and event is not None:
                    messages.append((event, data))
                    if event == "end":
                        return messages
                    event, data = None, None
        return messages

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        stderr = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode, stderr


def processes_with(text):
    """Pids of processes whose command line contains `text`."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if text.encode() in f.read():
                    pids.append(int(pid))
        except OSError:
            continue
    return pids
