#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "flow/steps/step_test_flow.h"

namespace drone::flow {
namespace {

using ::testing::HasSubstr;

// A real HTTP server on 127.0.0.1, port 0: /health answers 503 for the first `unready` requests,
// then 200 "status: up"; /echo returns the method, a header and the body it got.
class TestServer {
 public:
  explicit TestServer(int unready = 0) : unready_(unready) {
    server_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      if (hits_.fetch_add(1) < unready_) {
        res.status = 503;
        res.set_content("starting", "text/plain");
      } else {
        res.set_content("{\"status\": \"up\"}", "application/json");
      }
    });
    server_.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.method + " " + req.get_header_value("X-Probe") + " " + req.body,
                      "text/plain");
    });
    server_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(100000, 'x'), "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // bind_to_any_port() already listens: connections queue until the accept loop runs.
  }
  ~TestServer() {
    server_.stop();
    thread_.join();
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int hits() const { return hits_.load(); }

 private:
  httplib::Server server_;
  std::atomic<int> hits_{0};
  const int unready_;
  int port_ = 0;
  std::thread thread_;
};

TEST(HttpStepTest, RetriesUntilTheResponseMeetsExpect) {
  TestServer server(/*unready=*/2);
  TestFlowRun run(R"(name: t
steps:
  probe:
    kind: http
    with:
      url: )" + server.Url("/health") + R"(
      expect: {status: 200, body_contains: "status", body_regex: "\"status\": *\"up\""}
      deadline: 20s
      interval: 20ms
)");
  EXPECT_EQ(run.outcome.exit_code, 0) << run.Step("probe").error.ToString();
  const nlohmann::json out = run.ctx.Outputs("probe");
  EXPECT_EQ(out["status"], 200);
  EXPECT_EQ(out["attempts"], 3);  // two 503s, then 200
  EXPECT_EQ(out["body"], "{\"status\": \"up\"}");
  EXPECT_TRUE(out.contains("elapsed_ms"));
  EXPECT_EQ(server.hits(), 3);
}

TEST(HttpStepTest, OneAttemptWithoutADeadline) {
  TestServer server(/*unready=*/5);
  TestFlowRun run(R"(name: t
steps:
  probe: {kind: http, with: {url: ")" + server.Url("/health") + R"("}}
)");
  const StepRecord& probe = run.Step("probe");
  EXPECT_EQ(probe.status, StepStatus::kFailed);
  EXPECT_THAT(probe.error.message(), HasSubstr("status 503, expected 2xx"));
  EXPECT_EQ(run.ctx.Outputs("probe")["body"], "starting");
  EXPECT_EQ(server.hits(), 1);
}

TEST(HttpStepTest, BodyCriteriaFailWithWhatWasMissing) {
  TestServer server;
  TestFlowRun run(R"(name: t
steps:
  probe: {kind: http, with: {url: ")" + server.Url("/health") + R"(", expect: {body_regex: "down"}}}
)");
  EXPECT_THAT(run.Step("probe").error.message(), HasSubstr("does not match /down/"));
}

TEST(HttpStepTest, SendsMethodHeadersAndBody) {
  TestServer server;
  TestFlowRun run(R"(name: t
steps:
  first: {kind: exec, with: {argv: [echo, payload]}}
  post:
    kind: http
    needs: [first]
    with:
      url: )" + server.Url("/echo") + R"(
      method: POST
      headers: {X-Probe: abc}
      body: "got ${{ steps.first.outputs.stdout }}"
      expect: {status: [200, 201]}
)");
  EXPECT_EQ(run.outcome.exit_code, 0) << run.Step("post").error.ToString();
  EXPECT_EQ(run.ctx.Outputs("post")["body"], "POST abc got payload");
}

TEST(HttpStepTest, KeepsABoundedBody) {
  TestServer server;
  TestFlowRun run(R"(name: t
steps:
  big: {kind: http, with: {url: ")" + server.Url("/big") + R"(", max_body: 1KiB}}
)");
  EXPECT_EQ(run.outcome.exit_code, 0) << run.Step("big").error.ToString();
  const nlohmann::json out = run.ctx.Outputs("big");
  EXPECT_EQ(out["body"].get<std::string>().size(), 1024u);
  EXPECT_EQ(out["truncated"], true);
}

TEST(HttpStepTest, NoServerIsAFailureAfterTheDeadline) {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  TestFlowRun run(R"(name: t
steps:
  probe: {kind: http, with: {url: "http://127.0.0.1:1/", deadline: 300ms, interval: 50ms}}
)");
  const StepRecord& probe = run.Step("probe");
  EXPECT_EQ(probe.status, StepStatus::kFailed);
  EXPECT_THAT(probe.error.message(), HasSubstr("no response"));
  EXPECT_GT(run.ctx.Outputs("probe")["attempts"].get<int>(), 1);
}

}  // namespace
}  // namespace drone::flow
