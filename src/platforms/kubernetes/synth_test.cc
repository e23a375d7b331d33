#include "platforms/kubernetes/synth.h"

#include <gtest/gtest.h>

namespace drone::platforms::kubernetes {
namespace {

SynthOptions Options(const std::string& provider, int nodes = 0) {
  SynthOptions o;
  o.run_id = "r1";
  o.flow = "f";
  o.provider = FindProvider(provider).value();
  o.schedulable_nodes = nodes;
  return o;
}

ClusterPlan Plan(const std::string& broker, int nodes = 3) {
  ClusterPlan p;
  p.id = "cluster";
  p.broker = broker;
  p.nodes = nodes;
  return p;
}

const ApiObject* FindObject(const Synthesis& s, const std::string& kind, const std::string& name) {
  for (const Phase& p : s.chart.phases()) {
    for (const ApiObject& o : p.objects) {
      if (o.kind() == kind && o.name() == name) return &o;
    }
  }
  return nullptr;
}

TEST(SynthTest, EveryObjectIsLabelledWithTheRunAndLivesInTheRunsNamespace) {
  for (const std::string broker : {"kafka", "rabbitmq", "nats", "redis"}) {
    auto s = Synthesise({Plan(broker)}, Options("generic"));
    ASSERT_TRUE(s.ok()) << s.status().message();
    for (const Phase& p : s->chart.phases()) {
      for (const ApiObject& o : p.objects) {
        EXPECT_EQ(o.labels().at(kManagedByLabel), "drone") << broker << " " << o.name();
        EXPECT_EQ(o.labels().at(kRunIdLabel), "r1");
        EXPECT_EQ(o.labels().at(kFlowLabel), "f");
        if (o.kind() != "Namespace") {
          EXPECT_EQ(o.ns(), "drone-r1");
        }
      }
    }
  }
}

TEST(SynthTest, PhasesAreOrderedNamespaceRbacClusterWorkers) {
  SynthOptions o = Options("generic");
  o.workers = 2;
  auto s = Synthesise({Plan("rabbitmq")}, o);
  ASSERT_TRUE(s.ok());
  std::vector<std::string> files;
  for (const Phase& p : s->chart.phases()) files.push_back(p.file);
  EXPECT_EQ(files, (std::vector<std::string>{"00-namespace.yaml", "10-rbac.yaml",
                                             "20-cluster.yaml", "30-workers.yaml"}));
}

TEST(SynthTest, WorkersReadTheirTokenFromASecretWrittenOnlyWhenATokenIsGiven) {
  SynthOptions o = Options("generic");
  o.workers = 2;
  auto gitops = Synthesise({Plan("nats")}, o);
  ASSERT_TRUE(gitops.ok());
  EXPECT_EQ(FindObject(*gitops, "Secret", kWorkerTokenSecret), nullptr);
  const ApiObject* set = FindObject(*gitops, "StatefulSet", "drone-worker");
  ASSERT_NE(set, nullptr);
  const Json env = set->ToJson()["spec"]["template"]["spec"]["containers"][0]["env"];
  bool from_secret = false;
  for (const Json& e : env) {
    from_secret = from_secret ||
                  (e["name"] == "DRONE_WORKER_TOKEN" &&
                   e["valueFrom"]["secretKeyRef"]["name"] == kWorkerTokenSecret &&
                   e["valueFrom"]["secretKeyRef"]["key"] == "token");
  }
  EXPECT_TRUE(from_secret) << env.dump();

  o.worker_token = "t0ken";
  auto run = Synthesise({Plan("nats")}, o);
  ASSERT_TRUE(run.ok());
  const ApiObject* secret = FindObject(*run, "Secret", kWorkerTokenSecret);
  ASSERT_NE(secret, nullptr);
  EXPECT_EQ(secret->ns(), "drone-r1");
  EXPECT_EQ(secret->ToJson()["stringData"]["token"], "t0ken");
}

TEST(SynthTest, AntiAffinityIsRequiredOnlyWhenThereAreEnoughNodes) {
  auto few = Synthesise({Plan("kafka")}, Options("generic", 2));
  auto enough = Synthesise({Plan("kafka")}, Options("generic", 3));
  ASSERT_TRUE(few.ok() && enough.ok());
  auto affinity = [](const Synthesis& s) {
    return FindObject(s, "StatefulSet", "cluster")->ToJson()["spec"]["template"]["spec"]["affinity"]
        ["podAntiAffinity"];
  };
  EXPECT_TRUE(affinity(*few).contains("preferredDuringSchedulingIgnoredDuringExecution"));
  EXPECT_TRUE(affinity(*enough).contains("requiredDuringSchedulingIgnoredDuringExecution"));
}

TEST(SynthTest, ProviderSetsStorageClassAndLoadBalancerAnnotations) {
  auto s = Synthesise({Plan("nats")}, Options("eks"));
  ASSERT_TRUE(s.ok());
  Json set = FindObject(*s, "StatefulSet", "cluster")->ToJson();
  EXPECT_EQ(set["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"], "gp3");
  Json svc = FindObject(*s, "Service", "cluster")->ToJson();
  EXPECT_EQ(svc["spec"]["type"], "LoadBalancer");
  EXPECT_EQ(svc["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"],
            "internet-facing");
  auto generic = Synthesise({Plan("nats")}, Options("generic"));
  Json generic_set = FindObject(*generic, "StatefulSet", "cluster")->ToJson();
  EXPECT_FALSE(generic_set["spec"]["volumeClaimTemplates"][0]["spec"].contains("storageClassName"));
}

TEST(SynthTest, NetworkFaultsAddThePrivilegedSidecarAndAutopilotRefusesIt) {
  ClusterPlan plan = Plan("kafka");
  plan.netfault = true;
  auto s = Synthesise({plan}, Options("gke"));
  ASSERT_TRUE(s.ok());
  Json ns = FindObject(*s, "Namespace", "drone-r1")->ToJson();
  EXPECT_EQ(ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "privileged");
  Json pod = FindObject(*s, "StatefulSet", "cluster")->ToJson()["spec"]["template"]["spec"];
  EXPECT_EQ(pod["containers"][1]["name"], kNetfaultContainer);
  EXPECT_EQ(pod["containers"][1]["securityContext"]["capabilities"]["add"][0], "NET_ADMIN");
  EXPECT_TRUE(pod["shareProcessNamespace"].get<bool>());

  auto refused = Synthesise({plan}, Options("gke-autopilot"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("Autopilot"), std::string::npos);

  auto plain = Synthesise({Plan("kafka")}, Options("gke"));
  Json plain_ns = FindObject(*plain, "Namespace", "drone-r1")->ToJson();
  EXPECT_EQ(plain_ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "baseline");
}

TEST(SynthTest, KafkaVotersAndBootstrapNameEveryNode) {
  auto s = Synthesise({Plan("kafka", 3)}, Options("generic"));
  ASSERT_TRUE(s.ok());
  const ClusterLayout& c = s->clusters[0];
  EXPECT_EQ(c.pods, (std::vector<std::string>{"cluster-0", "cluster-1", "cluster-2"}));
  EXPECT_EQ(c.endpoint.bootstrap,
            "cluster-0.cluster-headless.drone-r1.svc.cluster.local:9092,"
            "cluster-1.cluster-headless.drone-r1.svc.cluster.local:9092,"
            "cluster-2.cluster-headless.drone-r1.svc.cluster.local:9092");
  Json env = FindObject(*s, "StatefulSet", "cluster")->ToJson()["spec"]["template"]["spec"]
      ["containers"][0]["env"];
  std::string voters;
  for (const Json& e : env) {
    if (e["name"] == "KAFKA_CONTROLLER_QUORUM_VOTERS") voters = e["value"];
  }
  EXPECT_EQ(voters.substr(0, 2), "0@");
  EXPECT_NE(voters.find(",2@cluster-2.cluster-headless"), std::string::npos);
}

TEST(SynthTest, RejectsWhatKubernetesCannotRun) {
  EXPECT_FALSE(Synthesise({Plan("mqtt", 3)}, Options("generic")).ok());
  ClusterPlan bad = Plan("redis");
  bad.options["sentinels"] = "1";
  EXPECT_FALSE(Synthesise({bad}, Options("generic")).ok());
  ClusterPlan unknown = Plan("kafka");
  unknown.options["colour"] = "blue";
  EXPECT_FALSE(Synthesise({unknown}, Options("generic")).ok());
  EXPECT_FALSE(FindProvider("openshift-4").ok());
  ClusterPlan not_a_number = Plan("mqtt", 1);
  not_a_number.options["max_inflight_messages"] = "many";
  EXPECT_FALSE(Synthesise({not_a_number}, Options("generic")).ok());
}

TEST(SynthTest, RecipeOptionsCarryOverIntoTheBrokersConfiguration) {
  ClusterPlan plan = Plan("mqtt", 1);
  plan.options["max_inflight_messages"] = "1";
  auto s = Synthesise({plan}, Options("kind"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  const std::string conf =
      FindObject(*s, "ConfigMap", "cluster-config")->ToJson()["data"]["mosquitto.conf"];
  EXPECT_NE(conf.find("max_inflight_messages 1\n"), std::string::npos) << conf;
  EXPECT_EQ(FindObject(*s, "Service", "cluster")->ToJson()["spec"]["type"], "NodePort");
}

TEST(SynthTest, RedisHasPrimaryReplicasAndSentinels) {
  auto s = Synthesise({Plan("redis", 3)}, Options("generic"));
  ASSERT_TRUE(s.ok());
  EXPECT_NE(FindObject(*s, "StatefulSet", "cluster"), nullptr);
  EXPECT_EQ(FindObject(*s, "StatefulSet", "cluster-replica")->ToJson()["spec"]["replicas"], 2);
  EXPECT_EQ(FindObject(*s, "StatefulSet", "cluster-sentinel")->ToJson()["spec"]["replicas"], 3);
  EXPECT_EQ(s->clusters[0].endpoint.properties.at("redis.sentinel_master"), "drone");
}

}  // namespace
}  // namespace drone::platforms::kubernetes
