"""Helpers for tests that drive the drone binary: paths, running it, reading its results."""
import json
import os
import subprocess
import tempfile
import time

SOURCE_DIR = os.environ.get("DRONE_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
DRONE = os.environ.get("DRONE_BIN", os.path.join(SOURCE_DIR, "build", "drone"))
FLOWS = os.path.join(SOURCE_DIR, "flows")
SCHEMA = os.path.join(SOURCE_DIR, "docs", "result.schema.json")


def run_drone(*args, timeout=600, **kwargs):
    """Runs drone with args; returns CompletedProcess (text)."""
    return subprocess.run([DRONE, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kwargs)


def write_flow(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def load_json(path):
    with open(path) as f:
        return json.load(f)


def validate_result(result):
    """Validates a result against the result contract's JSON Schema."""
    import jsonschema
    jsonschema.validate(result, load_json(SCHEMA))


def read_history(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class TempDir:
    def __enter__(self):
        self._d = tempfile.TemporaryDirectory(prefix="drone-test-")
        return self._d.name

    def __exit__(self, *exc):
        self._d.cleanup()


def wait_for(predicate, timeout=30.0, interval=0.05):
    """Polls `predicate` every `interval` seconds until it is true or `timeout` seconds pass;
    returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def alive(pid):
    """True when `pid` is a live (non-zombie) process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def group_members(pgid):
    """Live processes whose process group is `pgid`."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if fields[0] not in ("Z", "X") and fields[2] == str(pgid):
                out.append(int(name))
    return out


def erlang_processes(parent=None):
    """Pids of running epmd and beam.smp processes (zombies excluded), children of `parent` if given."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if parent is not None and int(fields[1]) != parent:
            continue
        if fields[0] != "Z" and os.path.basename(argv0) in ("epmd", "beam.smp"):
            pids.add(int(entry))
    return pids
