#include "platforms/kubernetes/manifest.h"

#include <gtest/gtest.h>

namespace drone::platforms::kubernetes {
namespace {

TEST(ToYamlTest, QuotesStringsThatPlainYamlWouldReadAsOtherTypes) {
  Json v = Json::object();
  v["port"] = "9092";
  v["flag"] = "true";
  v["on"] = "on";
  v["empty"] = "";
  v["colon"] = "a: b";
  v["name"] = "kafka-0";
  v["number"] = 3;
  v["bool"] = false;
  EXPECT_EQ(ToYaml(v),
            "port: \"9092\"\n"
            "flag: \"true\"\n"
            "\"on\": \"on\"\n"
            "empty: \"\"\n"
            "colon: \"a: b\"\n"
            "name: kafka-0\n"
            "number: 3\n"
            "bool: false\n");
}

TEST(ToYamlTest, NestsMapsAndSequencesInBlockStyle) {
  Json v = Json::object();
  v["spec"] = {{"ports", Json::array({{{"name", "client"}, {"port", 9092}}})}};
  v["list"] = Json::array({"a", "b"});
  v["none"] = Json::object();
  v["nothing"] = Json::array();
  EXPECT_EQ(ToYaml(v),
            "spec:\n"
            "  ports:\n"
            "  - name: client\n"
            "    port: 9092\n"
            "list:\n"
            "- a\n"
            "- b\n"
            "none: {}\n"
            "nothing: []\n");
}

TEST(ToYamlTest, MultiLineTextBecomesALiteralBlock) {
  Json v = Json::object();
  v["conf"] = "port 1\n\nname x\n";
  v["bare"] = "a\nb";
  EXPECT_EQ(ToYaml(v), "conf: |\n  port 1\n\n  name x\nbare: |-\n  a\n  b\n");
}

TEST(ApiObjectTest, MetadataComesFirstAndLabelsAreSorted) {
  ApiObject o("v1", "ConfigMap", "c");
  o.Namespace("ns").Label("z", "1").Label("a", "2").Set("data", {{"k", "v"}});
  EXPECT_EQ(ToYaml(o.ToJson()),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: ns\n"
            "  labels:\n    a: \"2\"\n    z: \"1\"\ndata:\n  k: v\n");
}

TEST(ChartTest, EveryObjectCarriesTheChartLabels) {
  Chart chart(std::map<std::string, std::string>{{"drone.dev/run-id", "r1"}});
  chart.Add("00.yaml", ApiObject("v1", "Namespace", "n"));
  chart.Add("20.yaml", ApiObject("v1", "Service", "s"));
  ASSERT_EQ(chart.phases().size(), 2u);
  for (const Phase& p : chart.phases()) {
    for (const ApiObject& o : p.objects) EXPECT_EQ(o.labels().at("drone.dev/run-id"), "r1");
  }
}

TEST(DnsLabelTest, MakesValidLabelsAndKeepsLongOnesDistinct) {
  EXPECT_EQ(DnsLabel("My_Cluster"), "my-cluster");
  EXPECT_EQ(DnsLabel("--x--"), "x");
  const std::string a = DnsLabel(std::string(80, 'a') + "1", 40);
  const std::string b = DnsLabel(std::string(80, 'a') + "2", 40);
  EXPECT_LE(a.size(), 40u);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace drone::platforms::kubernetes
