"""Network faults in flows, end to end: NATS clusters in a lab network (a namespace per node and
one for the clients), with a delay, a packet loss and a partition injected under load, a
RabbitMQ cluster partitioned the same way, and the embedded Kafka cluster delayed; each test
asserts the fault's visible effect on the result. And an interrupted run leaves nothing behind."""
import os
import shutil
import signal
import subprocess
import time
import unittest

from drone_test_support import (DRONE, FLOWS, TempDir, erlang_processes, load_json, run_drone,
                                validate_result)

HAVE_NATS = shutil.which("nats-server") is not None
HAVE_RABBITMQ = os.access("/usr/lib/rabbitmq/bin/rabbitmq-server", os.X_OK)
IS_ROOT = os.geteuid() == 0
SKIP_REASON = ("network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN)" if not IS_ROOT
               else "nats-server is not installed (apt-get install nats-server)")


def lab_namespaces(run_id):
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith("drone-" + run_id)]


class FlowRun:
    """Runs one flow once for a test class; keeps its exit, output and result."""

    def __init__(self, name):
        self.tmp = TempDir()
        d = self.tmp.__enter__()
        path = os.path.join(d, "result.json")
        self.proc = run_drone("run", os.path.join(FLOWS, name), "--json", path)
        self.result = load_json(path)

    def close(self):
        self.tmp.__exit__(None, None, None)

    def phase(self):
        phases = self.result["workloads"]["load"]["phases"]
        assert len(phases) == 1, phases
        return phases[0]


class FlowCase(unittest.TestCase):
    flow = ""
    hosts = {"nats-1", "nats-2", "nats-3", "clients"}

    @classmethod
    def setUpClass(cls):
        cls.run_ = FlowRun(cls.flow)
        cls.result = cls.run_.result

    @classmethod
    def tearDownClass(cls):
        cls.run_.close()

    def assert_passed_without_loss(self):
        self.assertEqual(self.run_.proc.returncode, 0, self.run_.proc.stdout + self.run_.proc.stderr)
        self.assertEqual(self.result["verdict"], "pass")
        validate_result(self.result)
        w = self.result["workloads"]["load"]
        self.assertGreater(w["acked"], 1000)
        self.assertEqual(w["delivery"]["lost"], 0)
        self.assertEqual(w["delivery"]["unseen"], 0)

    def assert_in_a_lab(self):
        outputs = next(s for s in self.result["steps"] if s["id"] == "cluster")["outputs"]
        self.assertEqual(outputs["network"], "lab")
        self.assertEqual(set(outputs["lab"]["hosts"]), self.hosts)
        for address in outputs["addresses"]:
            self.assertTrue(address.startswith("10.213.0."), address)
        self.assertEqual(lab_namespaces(self.result["run_id"]), [], "the lab was removed")

    def assert_events_match_the_record(self):
        fault = self.result["faults"][0]
        events = {e["type"]: e for e in self.result["events"] if e["type"].startswith("FAULT_")}
        self.assertEqual(events["FAULT_INJECTED"]["t"], fault["start"])
        self.assertEqual(events["FAULT_HEALED"]["t"], fault["end"])
        self.assertIn("via " + fault["backend"], events["FAULT_INJECTED"]["message"])


@unittest.skipUnless(IS_ROOT and HAVE_NATS, SKIP_REASON)
class NetfaultLatencyTest(FlowCase):
    flow = "netfault-latency.yaml"

    def test_passes_in_a_lab_without_loss(self):
        self.assert_passed_without_loss()
        self.assert_in_a_lab()
        self.assert_events_match_the_record()

    def test_the_delay_shows_in_end_to_end_latency_during_the_fault_only(self):
        p = self.run_.phase()
        before = p["before"]["latency_ms"]["end_to_end"]["p50"]
        during = p["during"]["latency_ms"]["end_to_end"]["p50"]
        after = p["after"]["latency_ms"]["end_to_end"]["p50"]
        self.assertGreaterEqual(during - before, 80, p)
        self.assertLess(after, before + 40, "the delay is gone after the heal")
        fault = self.result["faults"][0]
        self.assertEqual(fault["kind"], "impair")
        self.assertEqual(len(fault["details"]["impairments"]), 3, "clients -> each of 3 brokers")


@unittest.skipUnless(IS_ROOT and HAVE_NATS, SKIP_REASON)
class NetfaultLossTest(FlowCase):
    flow = "netfault-loss.yaml"

    def test_passes_in_a_lab_without_loss(self):
        self.assert_passed_without_loss()
        self.assert_in_a_lab()
        self.assert_events_match_the_record()

    def test_packet_loss_degrades_the_latency_tail_during_the_fault(self):
        p = self.run_.phase()
        before = p["before"]["latency_ms"]["end_to_end"]
        during = p["during"]["latency_ms"]["end_to_end"]
        # A segment that is not fast-retransmitted waits for TCP's retransmission timeout (at
        # least 200 ms), and the messages behind it with it.
        self.assertGreater(during["p90"], 3 * before["p90"], p)
        self.assertGreater(during["mean"], 2 * before["mean"], p)
        fault = self.result["faults"][0]
        self.assertIn(fault["backend"], {"tc-netem", "iptables", "nfqueue"})


@unittest.skipUnless(IS_ROOT and HAVE_NATS, SKIP_REASON)
class NetfaultPartitionTest(FlowCase):
    flow = "netfault-partition.yaml"

    def test_passes_in_a_lab_without_loss(self):
        self.assert_passed_without_loss()
        self.assert_in_a_lab()
        self.assert_events_match_the_record()

    def test_the_partition_was_real(self):
        fault = self.result["faults"][0]
        self.assertEqual(fault["kind"], "partition")
        self.assertEqual(fault["backend"], "iptables")
        node = fault["details"]["partition"]["nodes"][0]
        self.assertRegex(node, r"^nats-[123]$", "the role resolved to a node")
        blocked = {tuple(p) for p in fault["details"]["blocked"]}
        others = {"nats-1", "nats-2", "nats-3", "clients"} - {node}
        self.assertEqual(blocked, {(node, o) for o in others} | {(o, node) for o in others})
        # The leader cut off: acknowledgements stall until a new one is elected or it is back.
        p = self.run_.phase()
        before = p["before"]["throughput"]["acked_per_s"]
        during = p["during"]["throughput"]["acked_per_s"]
        self.assertLess(during, 0.8 * before, p)


@unittest.skipUnless(IS_ROOT, "network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN)")
class NetfaultLatencyKafkaTest(FlowCase):
    """The embedded Kafka cluster in a lab: the delay acts on the links, not in the mock."""
    flow = "netfault-latency-kafka.yaml"
    hosts = {"broker-1", "broker-2", "broker-3", "clients"}

    def test_passes_in_a_lab_without_loss(self):
        self.assert_passed_without_loss()
        self.assert_in_a_lab()
        self.assert_events_match_the_record()

    def test_the_delay_on_the_link_shows_in_end_to_end_latency_during_the_fault_only(self):
        p = self.run_.phase()
        before = p["before"]["latency_ms"]["end_to_end"]["p50"]
        during = p["during"]["latency_ms"]["end_to_end"]["p50"]
        after = p["after"]["latency_ms"]["end_to_end"]["p50"]
        self.assertGreaterEqual(during - before, 80, p)
        self.assertLess(after, before + 40, "the delay is gone after the heal")
        fault = self.result["faults"][0]
        self.assertEqual(fault["kind"], "impair")
        self.assertIn(fault["backend"], {"tc-netem", "nfqueue"}, "a lab backend, not the mock's rtt")
        self.assertEqual(sorted(i["to"] for i in fault["details"]["impairments"]),
                         ["broker-1", "broker-2", "broker-3"])


@unittest.skipUnless(IS_ROOT and HAVE_RABBITMQ,
                     "network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN)" if not IS_ROOT
                     else "rabbitmq-server is not installed (apt-get install rabbitmq-server)")
class NetfaultPartitionRabbitMqTest(FlowCase):
    flow = "netfault-partition-rabbitmq.yaml"
    hosts = {"rabbitmq-1", "rabbitmq-2", "rabbitmq-3", "clients"}

    @classmethod
    def setUpClass(cls):
        before = erlang_processes()
        super().setUpClass()
        cls.left_running = erlang_processes() - before

    def test_passes_in_a_lab_without_loss(self):
        self.assert_passed_without_loss()
        self.assert_in_a_lab()
        self.assert_events_match_the_record()
        self.assertEqual(self.left_running, set(), "no RabbitMQ node or epmd is left running")

    def test_the_leader_was_cut_off_and_acks_stalled(self):
        fault = self.result["faults"][0]
        self.assertEqual(fault["kind"], "partition")
        self.assertEqual(fault["backend"], "iptables")
        node = fault["details"]["partition"]["nodes"][0]
        self.assertRegex(node, r"^rabbitmq-[123]$", "the queue leader resolved to a node")
        blocked = {tuple(p) for p in fault["details"]["blocked"]}
        others = self.hosts - {node}
        self.assertEqual(blocked, {(node, o) for o in others} | {(o, node) for o in others})
        p = self.run_.phase()
        before = p["before"]["throughput"]["acked_per_s"]
        during = p["during"]["throughput"]["acked_per_s"]
        self.assertLess(during, 0.8 * before, p)


@unittest.skipUnless(IS_ROOT and HAVE_NATS, SKIP_REASON)
class InterruptedNetfaultRunTest(unittest.TestCase):
    def start_until_the_fault(self, flow, env, *args):
        """Starts `drone run flow` and reads its output until FAULT_INJECTED: (proc, run id,
        lines read). The caller stops the process."""
        proc = subprocess.Popen([DRONE, "run", os.path.join(FLOWS, flow), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env, stdin=subprocess.DEVNULL)
        run_id, lines = None, []
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                if "(run " in line and run_id is None:
                    run_id = line.rsplit("(run ", 1)[1].split(")")[0]
                if "FAULT_INJECTED" in line:
                    return proc, run_id, lines
            self.fail("no FAULT_INJECTED:\n" + "".join(lines))
        except BaseException:
            proc.kill()
            proc.communicate(timeout=30)
            raise

    def test_sigint_during_the_fault_leaves_nothing_behind(self):
        with TempDir() as d:
            env = dict(os.environ, TMPDIR=d)
            proc, run_id, lines = self.start_until_the_fault("netfault-latency.yaml", env)
            try:
                self.assertTrue(lab_namespaces(run_id), "the lab exists while the fault is on")
                proc.send_signal(signal.SIGINT)
                rest, _ = proc.communicate(timeout=90)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            self.assertEqual(proc.returncode, 3, "".join(lines) + rest)
            self.assertEqual(lab_namespaces(run_id), [], "no namespace (and so no veth, qdisc or "
                             "iptables rule of the lab) is left")
            self.assertEqual(os.listdir(d), [], "the run directories are removed")
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmdline = f.read().decode(errors="replace")
                except OSError:
                    continue
                self.assertNotIn(d, cmdline, "no server of the run is left")
            self.assertNotIn("FAULT_HEALED", "".join(lines[:-1]))
            self.assertIn("heal impair", rest, "the undo action healed the fault")

    def test_drone_clean_removes_the_lab_of_a_sigkilled_run(self):
        self.sigkill_during_the_fault_then_clean("netfault-latency.yaml")

    def test_drone_clean_removes_the_lab_of_a_sigkilled_embedded_kafka_run(self):
        self.sigkill_during_the_fault_then_clean("netfault-latency-kafka.yaml")

    def sigkill_during_the_fault_then_clean(self, flow):
        with TempDir() as d:
            data = os.path.join(d, "data")
            env = dict(os.environ, TMPDIR=d)
            proc, run_id, _ = self.start_until_the_fault(flow, env, "--data-dir", data)
            proc.kill()
            proc.communicate(timeout=30)
            self.assertTrue(lab_namespaces(run_id), "a SIGKILLed run cannot tear its lab down")
            clean = run_drone("clean", "--data-dir", data, env=env)
            self.assertEqual(clean.returncode, 0, clean.stdout + clean.stderr)
            self.assertIn("network namespace", clean.stdout + clean.stderr)
            self.assertEqual(lab_namespaces(run_id), [], "drone clean deleted the lab")


if __name__ == "__main__":
    unittest.main()
