#!/usr/bin/env python3
"""A recording stand-in for kubectl, put first on PATH by tests/integration/test_kubernetes.py.

Each call appends one JSON line to $KUBECTL_SHIM_LOG: {"argv": [...], "stdin": "...", "pid": N}.
The answer comes from the first rule in $KUBECTL_SHIM_RULES (a JSON file: a list of
{"match": [words], "stdout": "...", "stderr": "...", "exit": N, "block_s": S}) whose words all
appear in argv; without a matching rule it prints nothing and exits 0. `block_s` makes the call
hang (for at most that long) as a slow `kubectl wait` would, until the caller kills it.

`port-forward` to a worker pod (drone-worker-N) starts a real `drone worker` ($DRONE_BIN) on a
free loopback port, with the token of the drone-worker-token Secret that was applied, prints
kubectl's "Forwarding from 127.0.0.1:PORT -> 7700" once it listens, and lives as long as the
worker: killing the shim's process group ends both, as it ends a real port-forward.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time


def applied_worker_token():
    with open(os.environ["KUBECTL_SHIM_LOG"]) as log:
        for line in log:
            stdin = json.loads(line)["stdin"]
            m = re.search(r"name: drone-worker-token\n(?:.*\n)*?\s*token: (\S+)", stdin)
            if m is None:
                m = re.search(r"stringData:\n\s+token: (\S+)", stdin)
            if m:
                return m.group(1).strip("\"'")
    return ""


def forward_to_worker(argv):
    pod = next(a for a in argv if a.startswith("pod/"))
    if not pod.startswith("pod/drone-worker-"):
        sys.stderr.write("error: shim forwards only to worker pods, not " + pod + "\n")
        return 1
    token = applied_worker_token()
    with tempfile.TemporaryDirectory(prefix="kubectl-shim-") as d:
        port_file = os.path.join(d, "port")
        worker = subprocess.Popen([os.environ["DRONE_BIN"], "worker", "--listen", "127.0.0.1:0",
                                   "--port-file", port_file, "--token", token],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        with open(os.environ["KUBECTL_SHIM_LOG"] + ".workers", "a") as pids:
            pids.write("%d\n" % worker.pid)
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file) and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not os.path.exists(port_file):
            worker.kill()
            sys.stderr.write("error: the worker behind " + pod + " did not start\n")
            return 1
        with open(port_file) as f:
            port = f.read().strip()
        sys.stdout.write("Forwarding from 127.0.0.1:%s -> 7700\n" % port)
        sys.stdout.flush()
        return worker.wait()


def main():
    argv = ["kubectl"] + sys.argv[1:]
    data = ""
    if "-f" in argv and argv[argv.index("-f") + 1:argv.index("-f") + 2] == ["-"]:
        data = sys.stdin.read()
    with open(os.environ["KUBECTL_SHIM_LOG"], "a") as log:
        log.write(json.dumps({"argv": argv, "stdin": data, "pid": os.getpid()}) + "\n")
    rules = []
    if os.environ.get("KUBECTL_SHIM_RULES"):
        with open(os.environ["KUBECTL_SHIM_RULES"]) as f:
            rules = json.load(f)
    if "port-forward" in argv:
        return forward_to_worker(argv)
    for rule in rules:
        if all(word in argv for word in rule.get("match", [])):
            deadline = time.monotonic() + rule.get("block_s", 0)
            while time.monotonic() < deadline:
                time.sleep(0.05)
            sys.stdout.write(rule.get("stdout", ""))
            sys.stderr.write(rule.get("stderr", ""))
            return rule.get("exit", 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
