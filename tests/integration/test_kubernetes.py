"""The Kubernetes platform without a cluster: `drone k8s synth` against golden files and the
Kubernetes OpenAPI schemas, and `drone run --platform kubernetes`, `drone k8s doctor` and
`drone clean --kubernetes` against a recording kubectl (tests/k8s/kubectl_shim.py) that logs
every call's argv and answers canned output.

Golden files: tests/k8s/golden/<fixture>-<provider>/; DRONE_UPDATE_GOLDEN=1 rewrites them.
Schema validation needs tests/k8s/node_modules (`make setup` runs `npm ci` there).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import unittest

from drone_test_support import DRONE, FLOWS, SOURCE_DIR, TempDir, alive, run_drone, wait_for, write_flow

K8S = os.path.join(SOURCE_DIR, "tests", "k8s")
GOLDEN = os.path.join(K8S, "golden")
FIXTURES = os.path.join(K8S, "flows")
PROVIDERS = ["eks", "gke", "gke-autopilot", "aks", "kind", "minikube", "k3s", "microk8s", "generic"]
# Fixtures with network faults or pauses need the NET_ADMIN sidecar, which Autopilot refuses.
NEEDS_NET_ADMIN = {"kafka", "redis"}


def fixtures():
    return sorted(f[:-5] for f in os.listdir(FIXTURES) if f.endswith(".yaml"))


def read_tree(directory):
    out = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name)) as f:
            out[name] = f.read()
    return out


def synth(flow, provider, out_dir, *extra):
    return run_drone("k8s", "synth", flow, "--provider", provider, "-o", out_dir, "--nodes", "3", *extra)


def validate(*paths):
    node = shutil.which("node")
    if node is None:
        raise AssertionError("node is not installed; run `make setup`")
    if not os.path.isdir(os.path.join(K8S, "node_modules")):
        raise AssertionError("tests/k8s/node_modules is missing; run `make setup` (npm ci)")
    return subprocess.run([node, os.path.join(K8S, "validate.js"), *paths], capture_output=True,
                          text=True, timeout=300)


class SynthGoldenTest(unittest.TestCase):
    def test_every_fixture_and_provider_matches_its_golden_files(self):
        update = os.environ.get("DRONE_UPDATE_GOLDEN") == "1"
        checked = 0
        for fixture in fixtures():
            for provider in PROVIDERS:
                if provider == "gke-autopilot" and fixture in NEEDS_NET_ADMIN:
                    continue
                with self.subTest(fixture=fixture, provider=provider), TempDir() as d:
                    out = os.path.join(d, "out")
                    r = synth(os.path.join(FIXTURES, fixture + ".yaml"), provider, out)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    golden = os.path.join(GOLDEN, f"{fixture}-{provider}")
                    if update:
                        shutil.rmtree(golden, ignore_errors=True)
                        shutil.copytree(out, golden)
                    self.assertTrue(os.path.isdir(golden), f"no golden files for {fixture}-{provider}; "
                                    "run with DRONE_UPDATE_GOLDEN=1")
                    self.assertEqual(read_tree(out), read_tree(golden),
                                     f"{fixture}-{provider} differs from its golden files; if the change "
                                     "is intended, rerun with DRONE_UPDATE_GOLDEN=1 and review the diff")
                    checked += 1
        self.assertGreater(checked, 40)

    def test_synthesis_is_deterministic_and_names_phases_in_order(self):
        with TempDir() as d:
            a, b = os.path.join(d, "a"), os.path.join(d, "b")
            flow = os.path.join(FIXTURES, "rabbitmq.yaml")
            self.assertEqual(synth(flow, "eks", a).returncode, 0)
            self.assertEqual(synth(flow, "eks", b).returncode, 0)
            self.assertEqual(read_tree(a), read_tree(b))
            self.assertEqual(sorted(os.listdir(a)),
                             ["00-namespace.yaml", "10-rbac.yaml", "20-cluster.yaml", "30-workers.yaml"])

    def test_autopilot_refuses_net_admin_with_a_clear_message_and_writes_nothing(self):
        with TempDir() as d:
            out = os.path.join(d, "out")
            r = synth(os.path.join(FIXTURES, "kafka.yaml"), "gke-autopilot", out)
            self.assertEqual(r.returncode, 2)
            self.assertIn("GKE Autopilot", r.stderr)
            self.assertIn("--provider gke", r.stderr)
            self.assertFalse(os.path.exists(out))

    def test_bad_input_is_one_message_and_exit_2(self):
        with TempDir() as d:
            r = synth(os.path.join(FIXTURES, "nats.yaml"), "openshift", os.path.join(d, "o"))
            self.assertEqual(r.returncode, 2)
            self.assertIn("unknown Kubernetes provider 'openshift'", r.stderr)
            flow = write_flow(d, "f.yaml", "name: f\nsteps:\n  c: { kind: cluster, with: "
                              "{ broker: mqtt, platform: kubernetes, nodes: 3 } }\n")
            r = synth(flow, "kind", os.path.join(d, "o"))
            self.assertEqual(r.returncode, 2)
            self.assertIn("use nodes: 1", r.stderr)


class SchemaTest(unittest.TestCase):
    def test_golden_files_are_valid_kubernetes_objects(self):
        dirs = [os.path.join(GOLDEN, d) for d in sorted(os.listdir(GOLDEN))]
        self.assertGreater(len(dirs), 40)
        r = validate(*dirs)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_every_example_flow_synthesises_to_valid_objects(self):
        with TempDir() as d:
            outs = []
            for name in sorted(os.listdir(FLOWS)):
                if not name.endswith(".yaml"):
                    continue
                with self.subTest(flow=name):
                    out = os.path.join(d, name[:-5])
                    r = synth(os.path.join(FLOWS, name), "generic", out)
                    if "no cluster step that starts servers" in r.stderr:
                        continue  # external clusters: nothing of Drone's runs on Kubernetes
                    self.assertEqual(r.returncode, 0, r.stderr)
                    outs.append(out)
            self.assertGreater(len(outs), 5)
            r = validate(*outs)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_the_validator_rejects_an_invalid_object(self):
        # The validation above means something only if the validator fails on a bad object.
        with TempDir() as d:
            path = os.path.join(d, "bad.yaml")
            with open(path, "w") as f:
                f.write("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: x\n  labels:\n"
                        "    app.kubernetes.io/managed-by: drone\n    drone.dev/run-id: r\n"
                        "    drone.dev/flow: f\nspec:\n  replicas: three\n")
            r = validate(path)
            self.assertEqual(r.returncode, 1)
            self.assertIn("replicas", r.stdout)


class ShimTest(unittest.TestCase):
    """drone against the recording kubectl."""

    def setUp(self):
        self._tmp = TempDir()
        self.dir = self._tmp.__enter__()
        self.bin = os.path.join(self.dir, "bin")
        os.mkdir(self.bin)
        shutil.copy(os.path.join(K8S, "kubectl_shim.py"), os.path.join(self.bin, "kubectl"))
        os.chmod(os.path.join(self.bin, "kubectl"), 0o755)
        self.log = os.path.join(self.dir, "calls.jsonl")
        self.rules_path = os.path.join(self.dir, "rules.json")
        self.rules([])

    def tearDown(self):
        self._tmp.__exit__(None, None, None)

    def rules(self, rules):
        with open(self.rules_path, "w") as f:
            json.dump(rules, f)

    def env(self):
        env = dict(os.environ)
        env["PATH"] = self.bin + os.pathsep + env["PATH"]
        env["KUBECTL_SHIM_LOG"] = self.log
        env["KUBECTL_SHIM_RULES"] = self.rules_path
        env["DRONE_BIN"] = DRONE  # the shim's port-forward runs a real `drone worker`
        return env

    def calls(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def flow(self):
        return write_flow(self.dir, "k.yaml",
                          "name: k8s-shim\nsteps:\n"
                          "  cluster: { kind: cluster, with: { broker: kafka, nodes: 3 } }\n"
                          "  hold: { kind: sleep, needs: [cluster], with: { duration: 100ms } }\n")

    def run_flow(self, *extra, timeout=120):
        return subprocess.run([DRONE, "run", "--platform", "kubernetes", "--context", "test-ctx",
                               "--no-store", "--json", os.path.join(self.dir, "r.json"), *extra, self.flow()],
                              capture_output=True, text=True, timeout=timeout, env=self.env(),
                              stdin=subprocess.DEVNULL)

    def wait_for_rollout_call(self):
        """The logged `kubectl rollout status` call, once drone has made it (a blocking rule holds it)."""
        waiting = wait_for(lambda: next((c for c in self.calls() if "rollout" in c["argv"]), None),
                           timeout=60)
        self.assertIsNotNone(waiting, "drone never reached the rollout wait")
        return waiting

    def namespace_of(self, calls):
        applied = [c for c in calls if "apply" in c["argv"]]
        self.assertTrue(applied)
        first = applied[0]["stdin"]
        self.assertIn("kind: Namespace", first)
        return first.split("name: ", 1)[1].split("\n", 1)[0]

    def test_run_applies_phases_waits_then_deletes_the_namespace(self):
        self.rules([{"match": ["get", "nodes"], "stdout": "node/a\nnode/b\nnode/c\n"}])
        r = self.run_flow()
        self.assertEqual(r.returncode, 0, r.stderr)
        calls = self.calls()
        ns = self.namespace_of(calls)
        self.assertRegex(ns, r"^drone-[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")
        argvs = [c["argv"] for c in calls]
        apply = ["kubectl", "--context", "test-ctx", "apply", "--server-side", "--field-manager", "drone", "-f", "-"]
        self.assertEqual(argvs, [
            ["kubectl", "--context", "test-ctx", "get", "nodes", "-o", "name"],
            apply,
            apply,
            ["kubectl", "--context", "test-ctx", "-n", ns, "rollout", "status", "statefulset/cluster", "--timeout=600s"],
            ["kubectl", "--context", "test-ctx", "delete", "namespace", ns, "--ignore-not-found", "--wait=true",
             "--timeout=180s"],
        ])
        self.assertIn("kind: StatefulSet", calls[2]["stdin"])
        # Three nodes for three brokers: anti-affinity is required.
        self.assertIn("requiredDuringSchedulingIgnoredDuringExecution", calls[2]["stdin"])
        self.assertIn("drone.dev/pid:", calls[1]["stdin"])

    def test_workloads_run_on_the_worker_pods_through_port_forwards(self):
        self.rules([{"match": ["get", "nodes"], "stdout": "node/a\nnode/b\nnode/c\n"}])
        flow = write_flow(self.dir, "w.yaml",
                          "name: k8s-workers\nsteps:\n"
                          "  cluster: { kind: cluster, with: { broker: kafka, nodes: 3 } }\n"
                          "  load: { kind: workload, needs: [cluster], with: { topic: t, producers: 1, consumers: 1,\n"
                          "          rate: 50, messages: 20, message_timeout: 2s, drain_timeout: 1s } }\n")
        out = os.path.join(self.dir, "w.json")
        r = subprocess.run([DRONE, "run", "--platform", "kubernetes", "--context", "test-ctx", "--no-store",
                            "--json", out, flow], capture_output=True, text=True, timeout=120,
                           env=self.env(), stdin=subprocess.DEVNULL)
        calls = self.calls()
        ns = self.namespace_of(calls)
        workers_apply = next(c["stdin"] for c in calls if "name: drone-worker-token" in c["stdin"])
        self.assertIn("kind: Secret", workers_apply)
        self.assertIn("secretKeyRef", workers_apply)
        self.assertIn("replicas: 2", workers_apply, "one worker pod per producer and consumer")
        argvs = [c["argv"] for c in calls]
        self.assertIn(["kubectl", "--context", "test-ctx", "-n", ns, "rollout", "status",
                       "statefulset/drone-worker", "--timeout=600s"], argvs)
        forwards = [a for a in argvs if "port-forward" in a]
        self.assertEqual(forwards, [["kubectl", "--context", "test-ctx", "-n", ns, "port-forward", "--address",
                                     "127.0.0.1", "pod/drone-worker-%d" % i, ":7700"] for i in range(2)])
        # The workload went to the workers (with the Secret's token: a wrong one is refused), which
        # asked the brokers at the pods' DNS names; those do not resolve here, so the step fails.
        self.assertRegex(r.stderr, r"worker http://127\.0\.0\.1:[0-9]+ \(workload load\): "
                                   r"UNAVAILABLE: metadata for topic t")
        self.assertNotIn("token", r.stderr)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(argvs[-1][3:5], ["delete", "namespace"])
        # The port-forwards, and the workers behind them, ended with the run.
        with open(self.log + ".workers") as f:
            pids = [int(line) for line in f if line.strip()]
        self.assertEqual(len(pids), 2)
        wait_for(lambda: not any(alive(p) for p in pids), timeout=10)  # SIGKILLed with the group
        self.assertEqual([p for p in pids if alive(p)], [])

    def run_fault_flow(self, fault, kind="fault.network", broker="kafka"):
        """A 3-node cluster and one fault step on it; the run's JSON result and its calls."""
        flow = write_flow(self.dir, "f.yaml",
                          "name: k8s-fault\nsteps:\n"
                          "  cluster: { kind: cluster, with: { broker: " + broker + ", nodes: 3 } }\n"
                          "  fault: { kind: " + kind + ", needs: [cluster], with: " + fault + " }\n")
        out = os.path.join(self.dir, "f.json")
        r = subprocess.run([DRONE, "run", "--platform", "kubernetes", "--context", "test-ctx", "--no-store",
                            "--json", out, flow], capture_output=True, text=True, timeout=120,
                           env=self.env(), stdin=subprocess.DEVNULL)
        result = None
        if os.path.exists(out):
            with open(out) as f:
                result = json.load(f)
        return r, result, self.calls()

    def test_a_link_impairment_runs_tc_in_the_source_pods_sidecar_and_heals_it(self):
        self.rules([{"match": ["get", "nodes"], "stdout": "node/a\nnode/b\nnode/c\n"},
                    {"match": ["cluster-1", "jsonpath={.status.podIP}"], "stdout": "10.244.2.7"}])
        r, result, calls = self.run_fault_flow(
            "{ from: broker-1, to: broker-2, delay: 50ms, loss: 5%, duration: 100ms }")
        self.assertEqual(r.returncode, 0, r.stderr)
        ns = self.namespace_of(calls)
        # The sidecar was asked for: NET_ADMIN beside the broker.
        self.assertIn("name: drone-netfault", calls[2]["stdin"])
        argvs = [c["argv"] for c in calls]
        start = argvs.index(["kubectl", "--context", "test-ctx", "-n", ns, "rollout", "status",
                             "statefulset/cluster", "--timeout=600s"]) + 1
        sidecar = ["kubectl", "--context", "test-ctx", "-n", ns, "exec", "cluster-0", "-c", "drone-netfault", "--"]
        self.assertEqual(argvs[start:], [
            # broker-2's IP, asked for when the fault fires.
            ["kubectl", "--context", "test-ctx", "-n", ns, "get", "pod", "cluster-1", "-o",
             "jsonpath={.status.podIP}"],
            # broker-1 (pod cluster-0) shapes what it sends to that IP, and nothing else.
            sidecar + ["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "0"],
            sidecar + ["tc", "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:1", "htb", "rate",
                       "100gbit", "burst", "1250000", "cburst", "1250000", "quantum", "60000"],
            sidecar + ["tc", "qdisc", "add", "dev", "eth0", "parent", "1:1", "handle", "10:", "netem", "delay",
                       "50ms", "loss", "random", "5%", "limit", "100000"],
            sidecar + ["tc", "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                       "match", "ip", "dst", "10.244.2.7/32", "flowid", "1:1"],
            # The heal, after `duration`.
            sidecar + ["tc", "qdisc", "del", "dev", "eth0", "root"],
            ["kubectl", "--context", "test-ctx", "delete", "namespace", ns, "--ignore-not-found", "--wait=true",
             "--timeout=180s"],
        ])
        [fault] = result["faults"]
        self.assertEqual(fault["target"], "broker-1 -> broker-2")
        self.assertEqual(fault["backend"], "tc-netem")
        self.assertEqual(fault["details"]["pods"], {"broker-2": {"pod": "cluster-1", "ip": "10.244.2.7"}})
        self.assertTrue(fault["end"])

    def test_a_node_without_sch_netem_fails_the_fault_with_tcs_error_and_heals(self):
        self.rules([{"match": ["get", "nodes"], "stdout": "node/a\nnode/b\nnode/c\n"},
                    {"match": ["exec", "netem"], "stderr": "Error: Specified qdisc kind is unknown.\n",
                     "exit": 2}])
        r, _, calls = self.run_fault_flow("{ endpoint: broker-3, duplicate: 1%, corrupt: 0.1%, duration: 1s }")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("Specified qdisc kind is unknown", r.stderr)
        self.assertIn("modprobe sch_netem", r.stderr)
        argvs = [c["argv"] for c in calls]
        execs = [a[a.index("--") + 1:] for a in argvs if "exec" in a]
        self.assertTrue(all(a[a.index("exec") + 1] == "cluster-2" for a in argvs if "exec" in a))
        # An endpoint is the root qdisc of its pod: no filter, no far-end IP to ask for.
        self.assertEqual(execs, [
            ["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "netem", "duplicate", "1%",
             "corrupt", "0.1%", "limit", "100000"],
            ["tc", "qdisc", "del", "dev", "eth0", "root"],
        ])
        self.assertFalse(any("jsonpath={.status.podIP}" in a for a in argvs))
        self.assertEqual(argvs[-1][3:5], ["delete", "namespace"])

    def after_rollouts(self, argvs):
        """The calls after the last `rollout status`: what the flow's steps did."""
        last = max(i for i, a in enumerate(argvs) if "rollout" in a)
        return argvs[last + 1:]

    def test_a_partition_drops_in_each_receiving_pod_what_its_peers_send(self):
        self.rules([{"match": ["get", "nodes"], "stdout": "node/a\nnode/b\nnode/c\n"}] +
                   [{"match": ["cluster-%d" % i, "jsonpath={.status.podIP}"], "stdout": "10.244.%d.9" % i}
                    for i in range(3)])
        r, result, calls = self.run_fault_flow("{ partition: isolate, nodes: [broker-2], duration: 100ms }",
                                               kind="fault.partition")
        self.assertEqual(r.returncode, 0, r.stderr)
        ns = self.namespace_of(calls)
        self.assertIn("name: drone-netfault", calls[2]["stdin"])
        run_id = ns[len("drone-"):]
        tag = "drone:%s:fault" % run_id
        steps = self.after_rollouts([c["argv"] for c in calls])
        ip = ["kubectl", "--context", "test-ctx", "-n", ns, "get", "pod"]
        self.assertEqual(steps[:3], [ip + ["cluster-%d" % i, "-o", "jsonpath={.status.podIP}"] for i in range(3)])

        def rule(op, pod, peer):
            head = ["kubectl", "--context", "test-ctx", "-n", ns, "exec", pod, "-c", "drone-netfault", "--",
                    "iptables", "-w", op, "INPUT"] + (["1"] if op == "-I" else [])
            return head + ["-i", "eth0", "-s", peer + "/32", "-m", "comment", "--comment", tag, "-j", "DROP"]

        # broker-2 (cluster-1) hears neither peer, and neither peer hears it.
        pairs = [("cluster-1", "10.244.0.9"), ("cluster-0", "10.244.1.9"), ("cluster-2", "10.244.1.9"),
                 ("cluster-1", "10.244.2.9")]
        self.assertEqual(steps[3:7], [rule("-I", pod, peer) for pod, peer in pairs])
        self.assertEqual(steps[7:11], [rule("-D", pod, peer) for pod, peer in pairs])
        self.assertEqual(steps[11][3:5], ["delete", "namespace"])
        [fault] = result["faults"]
        self.assertEqual((fault["kind"], fault["backend"], fault["target"]), ("partition", "iptables", "isolate broker-2"))
        self.assertEqual(len(fault["details"]["blocked"]), 4)

    def test_kafka_leader_is_asked_of_a_broker_pod_when_the_fault_fires(self):
        describe = ("Topic: orders\tTopicId: 3RkOpvH4QYm6DNQq6bPtQQ\tPartitionCount: 3\tReplicationFactor: 3\t"
                    "Configs: min.insync.replicas=2\n"
                    "\tTopic: orders\tPartition: 0\tLeader: 2\tReplicas: 2,0,1\tIsr: 2,0,1\tElr: \tLastKnownElr: \n"
                    "\tTopic: orders\tPartition: 1\tLeader: 0\tReplicas: 0,1,2\tIsr: 0,1,2\tElr: \tLastKnownElr: \n")
        self.rules([{"match": ["get", "nodes"], "stdout": "node/a\nnode/b\nnode/c\n"},
                    {"match": ["exec", "/opt/kafka/bin/kafka-topics.sh"], "stdout": describe}])
        r, result, calls = self.run_fault_flow('{ target: "leader:orders", duration: 100ms }', kind="fault.pause")
        self.assertEqual(r.returncode, 0, r.stderr)
        ns = self.namespace_of(calls)
        k = ["kubectl", "--context", "test-ctx", "-n", ns, "exec"]
        self.assertEqual(self.after_rollouts([c["argv"] for c in calls]), [
            k + ["cluster-0", "-c", "kafka", "--", "/opt/kafka/bin/kafka-topics.sh", "--bootstrap-server",
                 "localhost:9092", "--describe", "--topic", "orders"],
            # Partition 0's leader is broker id 2: pod cluster-2, node broker-3.
            k + ["cluster-2", "-c", "drone-netfault", "--", "pkill", "-STOP", "-x", "java"],
            k + ["cluster-2", "-c", "drone-netfault", "--", "pkill", "-CONT", "-x", "java"],
            ["kubectl", "--context", "test-ctx", "delete", "namespace", ns, "--ignore-not-found", "--wait=true",
             "--timeout=180s"],
        ])
        [fault] = result["faults"]
        self.assertEqual(fault["target"], "broker-3")
        self.assertEqual(fault["details"]["requested"], "leader:orders")

    def test_redis_primary_is_the_pod_a_sentinel_names(self):
        self.rules([{"match": ["get", "nodes"], "stdout": "node/a\nnode/b\nnode/c\n"},
                    {"match": ["exec", "SENTINEL"],
                     "stdout": "cluster-replica-0.cluster-headless.drone-x.svc.cluster.local\n6379\n"}])
        r, result, calls = self.run_fault_flow("{ target: primary, duration: 100ms }", kind="fault.pause",
                                               broker="redis")
        self.assertEqual(r.returncode, 0, r.stderr)
        ns = self.namespace_of(calls)
        k = ["kubectl", "--context", "test-ctx", "-n", ns, "exec"]
        self.assertEqual(self.after_rollouts([c["argv"] for c in calls])[:3], [
            k + ["cluster-sentinel-0", "-c", "sentinel", "--", "redis-cli", "-p", "26379", "SENTINEL",
                 "get-master-addr-by-name", "drone"],
            # After a failover the primary is a former replica: pod cluster-replica-0, node redis-2.
            k + ["cluster-replica-0", "-c", "drone-netfault", "--", "pkill", "-STOP", "-x", "redis-server"],
            k + ["cluster-replica-0", "-c", "drone-netfault", "--", "pkill", "-CONT", "-x", "redis-server"],
        ])
        self.assertEqual(result["faults"][0]["target"], "redis-2")
        self.assertEqual(result["faults"][0]["details"]["requested"], "primary")

    def test_a_role_no_pod_can_tell_fails_the_fault_step(self):
        self.rules([{"match": ["get", "nodes"], "stdout": "node/a\nnode/b\nnode/c\n"},
                    {"match": ["exec", "rabbitmqctl"], "stderr": "error: unable to upgrade connection\n",
                     "exit": 1}])
        r, result, calls = self.run_fault_flow("{ target: leader, duration: 100ms }", kind="fault.pause",
                                               broker="rabbitmq")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("unable to upgrade connection", r.stderr)
        asked = [a for a in self.after_rollouts([c["argv"] for c in calls]) if "exec" in a]
        # Every broker pod was asked, none was paused.
        self.assertEqual([a[a.index("exec") + 1] for a in asked], ["cluster-0", "cluster-1", "cluster-2"])
        self.assertTrue(all("rabbitmqctl" in a for a in asked))
        self.assertEqual(result["faults"], [])

    def test_a_failed_wait_still_deletes_the_namespace(self):
        self.rules([{"match": ["get", "nodes"], "stdout": "node/a\n"},
                    {"match": ["rollout"], "stderr": "error: timed out waiting for the condition\n", "exit": 1}])
        r = self.run_flow()
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("timed out waiting for the condition", r.stderr + r.stdout)
        argvs = [c["argv"] for c in self.calls()]
        self.assertIn("rollout", argvs[-2])
        self.assertEqual(argvs[-1][3:5], ["delete", "namespace"])
        self.assertEqual(sum(1 for a in argvs if "delete" in a), 1)

    def test_sigint_during_the_wait_kills_kubectl_and_deletes_the_namespace(self):
        self.rules([{"match": ["get", "nodes"], "stdout": "node/a\n"},
                    {"match": ["rollout"], "block_s": 60}])
        proc = subprocess.Popen([DRONE, "run", "--platform", "kubernetes", "--context", "test-ctx",
                                 "--no-store", self.flow()], env=self.env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            waiting = self.wait_for_rollout_call()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 3, err)
        argvs = [c["argv"] for c in self.calls()]
        self.assertEqual(argvs[-1][3:5], ["delete", "namespace"])
        # The blocked kubectl was killed, not left behind.
        with self.assertRaises(ProcessLookupError):
            os.kill(waiting["pid"], 0)

    def test_after_a_kill_9_drone_clean_deletes_the_namespace_from_the_journal(self):
        self.rules([{"match": ["get", "nodes"], "stdout": "node/a\n"},
                    {"match": ["rollout"], "block_s": 60}])
        data = os.path.join(self.dir, "data")
        proc = subprocess.Popen([DRONE, "run", "--platform", "kubernetes", "--context", "test-ctx",
                                 "--no-store", "--data-dir", data, self.flow()], env=self.env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            waiting = self.wait_for_rollout_call()
            proc.kill()
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        # The blocked kubectl dies with drone (PR_SET_PDEATHSIG); wait for it so that it cannot
        # log a call after the next step starts.
        wait_for(lambda: not alive(waiting["pid"]), timeout=30)
        ns = self.namespace_of(self.calls())
        self.assertFalse(any("delete" in c["argv"] for c in self.calls()))
        r = subprocess.run([DRONE, "clean", "--data-dir", data], env=self.env(), capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("deleted namespace " + ns, r.stdout)
        # One journal entry per apply, each undone by the same (idempotent) namespace deletion.
        applies = [c for c in self.calls() if "apply" in c["argv"]]
        deletes = [c["argv"] for c in self.calls() if "delete" in c["argv"]]
        self.assertEqual(deletes, [["kubectl", "--context", "test-ctx", "delete", "namespace", ns,
                                    "--ignore-not-found", "--wait=true", "--timeout=180s"]] * len(applies))
        self.assertEqual(os.listdir(os.path.join(data, "journal")), [])

    def test_doctor_reports_each_check_and_fails_on_a_missing_permission(self):
        version = json.dumps({"clientVersion": {"gitVersion": "v1.32.4"}, "serverVersion": {"gitVersion": "v1.31.2"}})
        ok_rules = [{"match": ["version"], "stdout": version},
                    {"match": ["auth", "can-i"], "stdout": "yes\n"},
                    {"match": ["get", "storageclass", "gp3"], "stdout": "storageclass.storage.k8s.io/gp3\n"},
                    {"match": ["aws-load-balancer-controller"], "stdout": "deployment.apps/aws-load-balancer-controller\n"}]
        self.rules(ok_rules)
        r = subprocess.run([DRONE, "k8s", "doctor", "--context", "prod", "--provider", "eks"], env=self.env(),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok    API server v1.31.2", r.stdout)
        self.assertIn("ok    storage class gp3", r.stdout)
        self.assertNotIn("fail", r.stdout)
        self.assertTrue(all(c["argv"][1:3] == ["--context", "prod"] for c in self.calls()))

        self.rules([{"match": ["can-i", "delete", "namespaces"], "stdout": "no\n", "exit": 1}] + ok_rules)
        r = subprocess.run([DRONE, "k8s", "doctor", "--context", "prod", "--provider", "eks"], env=self.env(),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("fail  may delete namespaces", r.stdout)

    def test_clean_deletes_namespaces_of_dead_runs_only(self):
        host = socket.gethostname()
        dead = subprocess.Popen(["true"])
        dead.wait()

        def ns(name, owner_host, pid):
            return {"metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "drone"},
                                 "annotations": {"drone.dev/host": owner_host, "drone.dev/pid": str(pid)}}}

        items = [ns("drone-dead", host, dead.pid), ns("drone-elsewhere", "other-host", 1)]
        self.rules([{"match": ["get", "namespaces"], "stdout": json.dumps({"items": items})}])
        r = subprocess.run([DRONE, "clean", "--kubernetes", "--context", "c"], env=self.env(),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        deletes = [c["argv"] for c in self.calls() if "delete" in c["argv"]]
        self.assertEqual(deletes, [["kubectl", "--context", "c", "delete", "namespace", "drone-dead",
                                    "--ignore-not-found", "--wait=true", "--timeout=180s"]])
        self.assertEqual(self.calls()[0]["argv"], ["kubectl", "--context", "c", "get", "namespaces", "-l",
                                                   "app.kubernetes.io/managed-by=drone", "-o", "json"])


if __name__ == "__main__":
    unittest.main()
