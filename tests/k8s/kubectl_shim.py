#!/usr/bin/env python3
"""A recording stand-in for kubectl, put first on PATH by tests/integration/test_kubernetes.py.

Each call appends one JSON line to $KUBECTL_SHIM_LOG: {"argv": [...], "stdin": "...", "pid": N}.
The answer comes from the first rule in $KUBECTL_SHIM_RULES (a JSON file: a list of
{"match": [words], "stdout": "...", "stderr": "...", "exit": N, "block_s": S}) whose words all
appear in argv; without a matching rule it prints nothing and exits 0. `block_s` makes the call
hang (for at most that long) as a slow `kubectl wait` would, until the caller kills it.
"""
import json
import os
import sys
import time


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
