// kind: http — sends one HTTP request (cpp-httplib's client, plain http:// only) and judges the
// response by `expect` (status, body_contains, body_regex). With a `deadline`, a request that
// fails (no connection, a timeout, a response that misses `expect`) is repeated every `interval`
// until one passes or the deadline has passed; without one, there is a single attempt. Each
// request is bounded by `request_timeout`; cancellation is seen between attempts and while a
// body is read. Creates nothing, so it registers no undo action.
#include <httplib.h>

#include <algorithm>
#include <regex>

#include "core/clock.h"
#include "core/units.h"
#include "flow/step_executor.h"
#include "spec/http_url.h"

namespace drone::flow {
namespace {

struct Attempt {
  bool responded = false;
  int status = 0;
  std::string body;
  bool truncated = false;
  std::string problem;  // why this attempt does not pass; empty when it does
};

// Keeps the body's text valid for JSON: bytes that are not printable ASCII, tab or newline
// become '?' (a probe's outputs are for reading, not for binary payloads).
std::string Printable(const std::string& in) {
  std::string out = in;
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t' && c != '\r') || u >= 0x7f) c = '?';
  }
  return out;
}

class HttpStep : public StepExecutor {
 public:
  std::string Kind() const override { return "http"; }

  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::HttpWith>(ctx.step.with);
    ASSIGN_OR_RETURN(std::string url_text, ctx.Interpolate(with.url));
    Result<spec::HttpUrl> url = spec::ParseHttpUrl(url_text);
    if (!url.ok()) return InvalidArgument("http: " + url.status().message());
    ASSIGN_OR_RETURN(std::string body, ctx.Interpolate(with.body));
    std::optional<std::regex> regex;
    if (!with.body_regex.empty()) regex.emplace(with.body_regex, std::regex::ECMAScript);

    const int64_t start = MonotonicNs();
    const int64_t deadline = with.deadline_ns ? start + *with.deadline_ns : 0;
    int attempts = 0;
    Attempt last;
    while (true) {
      ++attempts;
      const int64_t sent = MonotonicNs();
      last = Send(ctx, with, *url, body);
      const int64_t elapsed_ms = (MonotonicNs() - sent) / 1'000'000;
      if (last.responded && last.problem.empty()) last.problem = Judge(with, regex, last);
      const bool passed = last.responded && last.problem.empty();
      const int64_t now = MonotonicNs();
      if (passed || deadline == 0 || now >= deadline || ctx.cancel.cancelled()) {
        nlohmann::json outputs = {{"status", last.status},
                                  {"body", Printable(last.body)},
                                  {"truncated", last.truncated},
                                  {"elapsed_ms", elapsed_ms},
                                  {"attempts", attempts},
                                  {"passed", passed}};
        ctx.run.SetOutputs(ctx.step.id, std::move(outputs));
        if (passed) return Status::Ok();
        if (ctx.cancel.cancelled()) {
          return Cancelled("http " + ctx.step.id + " cancelled: " + ctx.cancel.reason());
        }
        std::string message = with.method + " " + url_text + ": " + last.problem;
        if (deadline != 0) {
          message += " (after " + std::to_string(attempts) + " attempts in " +
                     FormatDuration(*with.deadline_ns) + ")";
        }
        return FailedPrecondition(message);
      }
      if (ctx.cancel.WaitFor(std::min(with.interval_ns, deadline - now))) {
        return Cancelled("http " + ctx.step.id + " cancelled: " + ctx.cancel.reason());
      }
    }
  }

 private:
  static Attempt Send(StepContext& ctx, const spec::HttpWith& with, const spec::HttpUrl& url,
                      const std::string& body) {
    Attempt a;
    httplib::Client client(url.host, url.port);
    const time_t sec = static_cast<time_t>(with.request_timeout_ns / kNsPerSec);
    const time_t usec = static_cast<time_t>((with.request_timeout_ns % kNsPerSec) / 1000);
    client.set_connection_timeout(sec, usec);
    client.set_read_timeout(sec, usec);
    client.set_write_timeout(sec, usec);
    client.set_keep_alive(false);

    httplib::Request req;
    req.method = with.method;
    req.path = url.target;
    for (const auto& [name, value] : with.headers) req.headers.emplace(name, value);
    if (!body.empty() || with.method == "POST" || with.method == "PUT" || with.method == "PATCH") {
      req.body = body;
      if (!req.has_header("Content-Type")) req.headers.emplace("Content-Type", "text/plain");
    }
    const size_t max_body = static_cast<size_t>(with.max_body);
    // Reads at most max_body bytes, then stops the transfer: a probe never holds a large body.
    req.content_receiver = [&a, max_body](const char* data, size_t length, uint64_t /*offset*/,
                                          uint64_t /*total*/) {
      const size_t room = max_body - std::min(a.body.size(), max_body);
      a.body.append(data, std::min(room, length));
      if (length > room) {
        a.truncated = true;
        return false;
      }
      return true;
    };
    req.progress = [&ctx](uint64_t, uint64_t) { return !ctx.cancel.cancelled(); };
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    const bool ok = client.send(req, res, error);
    if (ok || (a.truncated && res.status > 0)) {
      a.responded = true;
      a.status = res.status;
      return a;
    }
    a.problem = "no response: " + httplib::to_string(error);
    return a;
  }

  static std::string Judge(const spec::HttpWith& with, const std::optional<std::regex>& regex,
                           const Attempt& a) {
    const bool status_ok =
        with.expect_status.empty()
            ? a.status >= 200 && a.status < 300
            : std::find(with.expect_status.begin(), with.expect_status.end(), a.status) !=
                  with.expect_status.end();
    if (!status_ok) {
      std::string wanted = "2xx";
      if (!with.expect_status.empty()) {
        wanted.clear();
        for (int s : with.expect_status) wanted += (wanted.empty() ? "" : " or ") + std::to_string(s);
      }
      return "status " + std::to_string(a.status) + ", expected " + wanted;
    }
    if (!with.body_contains.empty() && a.body.find(with.body_contains) == std::string::npos) {
      return "the body does not contain '" + with.body_contains + "'" +
             (a.truncated ? " (in its first " + std::to_string(with.max_body) + " bytes)" : "");
    }
    if (regex && !std::regex_search(a.body, *regex)) {
      return "the body does not match /" + with.body_regex + "/" +
             (a.truncated ? " (in its first " + std::to_string(with.max_body) + " bytes)" : "");
    }
    return "";
  }
};

}  // namespace

std::unique_ptr<StepExecutor> NewHttpStep() { return std::make_unique<HttpStep>(); }

}  // namespace drone::flow
