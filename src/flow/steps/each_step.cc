// kind: each — fan-out over a list, then gather (spec::EachWith). The items are the literal list,
// or the JSON array its `${{ steps.ID.outputs.PATH }}` resolves to when the step starts. The
// template runs once per item, as step "<id>[<index>]" (its outputs and events carry that id),
// with `${{ each.item }}` and `${{ each.index }}` bound (StepContext::bindings), on up to
// `parallelism` threads that take the next item as they finish one.
//
// Failure: with fail_fast, the first failed iteration cancels the running ones and no more start
// (they count as skipped); without it, every iteration runs. Either way the step fails when one
// did, with the status of the first failure. Cancellation of the step (timeout, a failed step
// elsewhere, Ctrl-C) reaches every running iteration through one token that follows the step's.
//
// Undo actions that iterations register belong to the each step (one StepScope per thread), so a
// retried each step undoes all of them first.
//
// Outputs: {"results": [outputs of iteration 0, ...] (null when it did not run), "statuses":
// ["succeeded" | "failed" | "cancelled" | "skipped", ...], "items": [...], "count": N,
// "succeeded": N, "failed": N, "skipped": N, "errors": [{"index", "item", "error"}]}.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "flow/step_executor.h"

namespace drone::flow {
namespace {

using nlohmann::json;

constexpr int64_t kFollowPollNs = 20'000'000;

class EachStep : public StepExecutor {
 public:
  std::string Kind() const override { return "each"; }

  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::EachWith>(ctx.step.with);
    if (!with.step) return Internal("each " + ctx.step.id + ": the step template was not loaded");
    ASSIGN_OR_RETURN(json items, Items(ctx, with));
    const Registry<StepExecutor>& kinds =
        ctx.step_kinds != nullptr ? *ctx.step_kinds : StepKindRegistry();
    const std::string kind = spec::StepKindName(with.step->kind);

    const size_t n = items.size();
    std::vector<Status> status(n, Cancelled("not started"));
    std::vector<bool> started(n, false);
    std::mutex mu;  // guards status and started
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    CancelToken cancel;  // the iterations': follows the step's, and fail_fast fires it
    std::atomic<bool> done{false};
    std::thread follower([&] {
      while (!done.load()) {
        if (ctx.cancel.WaitFor(kFollowPollNs)) {
          cancel.Cancel(ctx.cancel.reason(), ctx.cancel.graceful());
          return;
        }
      }
    });

    auto worker = [&] {
      RunContext::StepScope scope(ctx.step.id);
      while (true) {
        if (cancel.cancelled()) return;
        const size_t i = next.fetch_add(1);
        if (i >= n) return;
        {
          std::lock_guard<std::mutex> lock(mu);
          started[i] = true;
        }
        Status s = RunOne(ctx, kinds, kind, *with.step, items[i], i, cancel);
        {
          std::lock_guard<std::mutex> lock(mu);
          status[i] = s;
        }
        if (!s.ok() && !cancel.cancelled()) {
          failed.store(true);
          if (with.fail_fast) {
            cancel.Cancel("each " + ctx.step.id + ": iteration " + std::to_string(i) + " failed");
          }
        }
      }
    };
    const size_t width =
        std::min(n, with.parallelism > 0 ? static_cast<size_t>(with.parallelism) : n);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < width; ++t) threads.emplace_back(worker);
    for (std::thread& t : threads) t.join();
    done.store(true);
    follower.join();

    json results = json::array();
    json statuses = json::array();
    json errors = json::array();
    int succeeded = 0, failures = 0, skipped = 0;
    const Status* first_failure = nullptr;
    for (size_t i = 0; i < n; ++i) {
      const std::string id = IterationId(ctx.step.id, i);
      if (!started[i]) {
        ++skipped;
        results.push_back(nullptr);
        statuses.push_back("skipped");
        continue;
      }
      results.push_back(ctx.run.Outputs(id));
      if (status[i].ok()) {
        ++succeeded;
        statuses.push_back("succeeded");
        continue;
      }
      const bool was_cancelled = status[i].code() == StatusCode::kCancelled;
      statuses.push_back(was_cancelled ? "cancelled" : "failed");
      if (!was_cancelled) {
        ++failures;
        if (first_failure == nullptr) first_failure = &status[i];
      }
      errors.push_back({{"index", i}, {"item", items[i]}, {"error", status[i].message()}});
    }
    ctx.run.SetOutputs(ctx.step.id, {{"results", results},
                                     {"statuses", statuses},
                                     {"items", items},
                                     {"count", n},
                                     {"succeeded", succeeded},
                                     {"failed", failures},
                                     {"skipped", skipped},
                                     {"errors", errors}});
    if (ctx.cancel.cancelled()) return Cancelled("each " + ctx.step.id + ": " + ctx.cancel.reason());
    if (first_failure != nullptr) {
      return Status(first_failure->code(),
                    std::to_string(failures) + " of " + std::to_string(n) + " iterations failed; " +
                        "first: " + first_failure->message());
    }
    return Status::Ok();
  }

 private:
  static std::string IterationId(const std::string& id, size_t i) {
    return id + "[" + std::to_string(i) + "]";
  }

  static Result<json> Items(StepContext& ctx, const spec::EachWith& with) {
    if (with.items_expr.empty()) {
      json items = json::array();
      for (const std::string& s : with.items) items.push_back(s);
      return items;
    }
    ASSIGN_OR_RETURN(std::string text, ctx.Interpolate(with.items_expr));
    json items = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!items.is_array()) {
      return InvalidArgument("items: " + with.items_expr + " is '" + text.substr(0, 200) +
                             "', not a list");
    }
    return items;
  }

  static Status RunOne(StepContext& parent, const Registry<StepExecutor>& kinds,
                       const std::string& kind, const spec::Step& templ, const json& item,
                       size_t index, const CancelToken& cancel) {
    ASSIGN_OR_RETURN(std::unique_ptr<StepExecutor> executor, kinds.Create(kind));
    spec::Step step = templ;
    step.id = IterationId(parent.step.id, index);
    StepContext ctx{parent.run, step, cancel, [] {}};
    ctx.bindings = parent.bindings;
    ctx.bindings["each"] = {{"item", item}, {"index", index}};
    ctx.step_kinds = &kinds;
    return executor->Run(ctx);
  }
};

}  // namespace

std::unique_ptr<StepExecutor> NewEachStep() { return std::make_unique<EachStep>(); }

}  // namespace drone::flow
