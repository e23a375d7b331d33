// Status and Result<T>: the error currency of Drone. Fallible calls return one of these instead
// of throwing; library error codes are translated into a Status at the boundary where they arise.
// Value types; safe to copy between threads.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace drone {

enum class StatusCode {
  kOk,
  kInvalidArgument,     // bad input from the user: exit code 2
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,  // environment not as required (missing binary, privilege)
  kUnavailable,         // broker or service could not be reached
  kDeadlineExceeded,
  kCancelled,
  kUnimplemented,
  kInternal,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    // An OK status carries no value; constructing a Result from it is a programming error.
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace drone

#define DRONE_CONCAT_INNER(a, b) a##b
#define DRONE_CONCAT(a, b) DRONE_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::drone::Status drone_status_ = (expr);    \
    if (!drone_status_.ok()) return drone_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` — `lhs` is a declaration, so it cannot be parenthesised.
// NOLINTNEXTLINE(bugprone-macro-parentheses)
#define ASSIGN_OR_RETURN(lhs, expr)                                        \
  auto DRONE_CONCAT(drone_result_, __LINE__) = (expr);                     \
  if (!DRONE_CONCAT(drone_result_, __LINE__).ok())                         \
    return DRONE_CONCAT(drone_result_, __LINE__).status();                 \
  lhs = std::move(DRONE_CONCAT(drone_result_, __LINE__)).value()
