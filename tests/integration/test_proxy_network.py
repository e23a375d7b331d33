"""Network faults without privilege: flows/netfault-proxy.yaml run by an unprivileged user (as
root, the test drops to `nobody` with setpriv), so the NATS cluster cannot get a lab network and
falls back to network: proxy — a TCP proxy in front of every node, and one per pair of nodes on
their routes. Asserts the fallback is said and shown, that a 100 ms proxy delay shows in
end-to-end latency, that cutting each node off stalls its clients' connections until they move to
another node and silences its routes, without losing anything acknowledged, and that nothing is
left behind. Plus what validate accepts and refuses."""
import os
import shutil
import subprocess
import tempfile
import unittest

from drone_test_support import DRONE, FLOWS, load_json, validate_result, write_flow

HAVE_NATS = shutil.which("nats-server") is not None
IS_ROOT = os.geteuid() == 0
SETPRIV = shutil.which("setpriv")


def unprivileged(argv):
    """argv run as an unprivileged user: as is when not root, else as nobody."""
    if not IS_ROOT:
        return argv
    return [SETPRIV, "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]


def can_drop_privileges():
    if not IS_ROOT:
        return True
    if SETPRIV is None:
        return False
    # nobody must be able to run both programs (a build tree under a private home would not do).
    for argv in ([DRONE, "--help"], [shutil.which("nats-server") or "nats-server", "--version"]):
        r = subprocess.run(unprivileged(argv), capture_output=True, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            return False
    return True


READY = HAVE_NATS and can_drop_privileges()
SKIP_REASON = ("nats-server is not installed (apt-get install nats-server)" if not HAVE_NATS
               else "cannot run drone and nats-server as an unprivileged user (setpriv, nobody)")


class UnprivilegedDir:
    """A temporary directory the unprivileged user may write (TMPDIR, HOME, results)."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="drone-proxy-test-")
        os.chmod(self.path, 0o777)
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def run_unprivileged(directory, *args, timeout=300):
    # The run store and journals too (ctest points XDG_DATA_HOME at the build tree, which the
    # unprivileged user may not write).
    env = dict(os.environ, TMPDIR=directory, HOME=directory,
               XDG_DATA_HOME=os.path.join(directory, "data"))
    return subprocess.run(unprivileged([DRONE, *args]), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, cwd=directory, env=env)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@unittest.skipUnless(READY, SKIP_REASON)
class ProxyFallbackFlowTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = UnprivilegedDir()
        cls.dir = cls.tmp.__enter__()
        path = os.path.join(cls.dir, "result.json")
        cls.proc = run_unprivileged(cls.dir, "run", os.path.join(FLOWS, "netfault-proxy.yaml"),
                                    "--json", path)
        cls.result = load_json(path)
        cls.outputs = next(s for s in cls.result["steps"] if s["id"] == "cluster")["outputs"]
        cls.left_in_tmp = sorted(n for n in os.listdir(cls.dir) if n.startswith("drone-cluster-"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.__exit__(None, None, None)

    def faults(self, prefix):
        return [f for f in self.result["faults"] if f["step"].startswith(prefix)]

    def test_passes_without_losing_anything_acknowledged(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stdout + self.proc.stderr)
        self.assertEqual(self.result["verdict"], "pass")
        validate_result(self.result)
        w = self.result["workloads"]["load"]
        self.assertGreater(w["acked"], 5000)
        self.assertEqual(w["delivery"]["lost"], 0)
        self.assertEqual(w["delivery"]["unseen"], 0)

    def test_it_fell_back_to_proxies_and_said_so(self):
        self.assertIn("falling back to network: proxy", self.proc.stderr)
        self.assertEqual(self.outputs["network"], "proxy")
        self.assertNotIn("lab", self.outputs)
        hosts = self.outputs["proxy"]["hosts"]
        self.assertEqual(sorted(hosts), ["nats-1", "nats-2", "nats-3"])
        self.assertEqual(len(self.outputs["proxy"]["links"]), 6)  # one per ordered pair of nodes
        # The clients were given the proxies, not the nodes.
        for node, address in zip(self.outputs["nodes"], self.outputs["addresses"]):
            self.assertEqual(address, hosts[node]["address"])
            self.assertTrue(address.startswith("127.0.1."), address)
            self.assertNotEqual(address, hosts[node]["upstream"])
            self.assertIn(address, self.outputs["bootstrap"])
        self.assertEqual(len(self.result["faults"]), 5)
        for fault in self.result["faults"]:
            self.assertEqual(fault["backend"], "tcp-proxy")

    def test_the_proxy_delay_shows_in_end_to_end_latency_during_the_window(self):
        phase = self.result["workloads"]["load"]["phases"][0]
        self.assertEqual(phase["fault"], "slow-link")
        before = phase["before"]["latency_ms"]["end_to_end"]["p50"]
        during = phase["during"]["latency_ms"]["end_to_end"]["p50"]
        self.assertGreaterEqual(during - before, 80.0, phase)
        (delay,) = self.faults("slow-link")
        for node in ("nats-1", "nats-2", "nats-3"):
            self.assertEqual(delay["details"]["proxies"][node]["up"]["delay"]["time"], "100ms")
        # The clients' connections are spread over the nodes at random: some carried the load.
        self.assertGreater(sum(seen["bytes_up"] for seen in delay["details"]["at_heal"].values()), 0)

    def test_cutting_a_node_off_stalls_its_clients_until_they_move_elsewhere(self):
        cuts = self.faults("cut-")
        self.assertEqual([c["target"] for c in cuts],
                         ["isolate nats-1", "isolate nats-2", "isolate nats-3"])
        hit = 0
        for cut in cuts:
            node = cut["target"].split()[-1]
            proxy = cut["details"]["proxies"][node]
            self.assertTrue(proxy["up"]["blackhole"] and proxy["down"]["blackhole"])
            seen = cut["details"]["at_heal"][node]
            if proxy["open_at_inject"] == 0:
                continue
            hit += 1
            # Bytes went in and none came out; by the heal the clients had given up on the node
            # (their pings timed out) and were connected elsewhere.
            self.assertGreater(seen["bytes_blackholed"], 0, cut)
            self.assertEqual(seen["bytes_up"] + seen["bytes_down"], 0, cut)
            self.assertEqual(seen["open_at_heal"], 0, cut)
        # Each node is cut in turn, so every client connection is on one of them once.
        self.assertGreater(hit, 0)
        # And the load goes on once the clients have moved (the in-flight publishes time out
        # first: message_timeout is the window's length).
        for phase in self.result["workloads"]["load"]["phases"]:
            if phase["fault"].startswith("cut-"):
                self.assertGreater(phase["after"]["throughput"]["acked_per_s"], 100, phase)

    def test_the_route_between_two_nodes_passes_through_their_proxies(self):
        # NATS routes go through a proxy per ordered pair of nodes: whichever of the two opened
        # the route between nats-1 and nats-2 carried its heartbeats and replication, delayed.
        (fault,) = self.faults("slow-route")
        self.assertEqual(fault["backend"], "tcp-proxy")
        proxies = fault["details"]["proxies"]
        self.assertEqual(sorted(proxies), ["nats-1->nats-2", "nats-2->nats-1"])
        self.assertEqual(proxies["nats-1->nats-2"]["up"]["delay"]["time"], "20ms")
        self.assertEqual(proxies["nats-2->nats-1"]["down"]["delay"]["time"], "20ms")
        seen = fault["details"]["at_heal"]
        self.assertGreater(seen["nats-1->nats-2"]["bytes_up"] + seen["nats-2->nats-1"]["bytes_down"], 0)
        # The cuts are between the clients and a node only (among): no route was touched.
        for cut in self.faults("cut-"):
            self.assertEqual([k for k in cut["details"]["proxies"] if "->" in k], [], cut)

    def test_nothing_is_left_behind(self):
        self.assertEqual(self.left_in_tmp, [], "the cluster's run directory was removed")
        for pid in self.outputs["pids"]:
            self.assertFalse(alive(pid), "nats-server %d still runs" % pid)


FLOW = """
name: proxy-refusals
steps:
  cluster: {{ kind: cluster, with: {{ broker: nats, platform: local, nodes: 3{network} }} }}
  topic: {{ kind: topic, needs: [cluster], with: {{ name: t, partitions: 1, replication: 3 }} }}
  load: {{ kind: workload, needs: [topic], background: true,
          with: {{ topic: t, rate: 10, duration: 2s }} }}
  fault: {{ kind: fault.network, needs: [load.started], with: {{ {fault}, duration: 1s }} }}
"""


@unittest.skipUnless(READY, SKIP_REASON)
class ProxyRefusalsTest(unittest.TestCase):
    def validate(self, network, fault):
        with UnprivilegedDir() as d:
            path = write_flow(d, "flow.yaml", FLOW.format(network=network, fault=fault))
            os.chmod(path, 0o644)
            return run_unprivileged(d, "validate", path, timeout=60)

    def test_the_fallback_validates(self):
        r = self.validate("", "from: clients, to: brokers, delay: 50ms")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_an_explicit_lab_without_privilege_is_bad_input(self):
        r = self.validate(", network: lab", "from: clients, to: brokers, delay: 50ms")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("network: lab needs network namespaces", r.stderr)

    def test_packet_faults_are_refused_naming_the_lab(self):
        r = self.validate("", "endpoint: nats-1, loss: 5%")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("loss cannot be carried by network: proxy", r.stderr)
        self.assertIn("lab network", r.stderr)

    def test_links_between_brokers_pass_through_proxies_with_nats_routes(self):
        r = self.validate(", network: proxy", "from: nats-1, to: nats-2, delay: 50ms")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_links_between_brokers_are_refused_where_they_are_not_proxied(self):
        flow = FLOW.replace("broker: nats", "broker: redis").replace("replication: 3", "replication: 1")
        with UnprivilegedDir() as d:
            path = write_flow(d, "flow.yaml", flow.format(
                network=", network: proxy, options: { sentinels: 0 }",
                fault="from: redis-1, to: redis-2, delay: 50ms"))
            os.chmod(path, 0o644)
            r = run_unprivileged(d, "validate", path, timeout=60)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("does not pass through a proxy", r.stderr)

    def test_stream_faults_validate_in_proxy_mode(self):
        r = self.validate(", network: proxy", "endpoint: nats-1, slicer: { size: 16, delay: 1ms }")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
