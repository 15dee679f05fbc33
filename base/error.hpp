#pragma once
// The project's error type, used by every folder (base/ is the bottom of the dependency
// graph: header-only, the C++ standard library and nothing else).
//
// An Error says what was expected and what was found, and names the parameter (or the
// call) where the bad value entered. Library code throws it and never exits; a tool's
// main() prints what() as one line and returns non-zero.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ody {

class Error : public std::runtime_error {
 public:
  // where: the parameter or call ("allgather: recv", "--seq-len"); expected/found: the
  // rule and the offending value.
  Error(std::string where, std::string expected, std::string found)
      : std::runtime_error(where + ": expected " + expected + ", found " + found),
        where_(std::move(where)),
        expected_(std::move(expected)),
        found_(std::move(found)) {}
  // A failure that is not a value mismatch (a vendor call failed, a file is damaged).
  explicit Error(const std::string& message) : std::runtime_error(message) {}

  const std::string& where() const { return where_; }
  const std::string& expected() const { return expected_; }
  const std::string& found() const { return found_; }

 private:
  std::string where_, expected_, found_;
};

// A wait() that ran out of time. Derives from Error so one catch handles both.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace ody

// ODY_REQUIRE(cond, where, expected, found...): throws ody::Error when cond is false.
// `expected` and the found values may be anything printable with operator<<.
#define ODY_REQUIRE(cond, where, expected, ...)                                                   \
  do {                                                                                            \
    if (!(cond))                                                                                  \
      throw ::ody::Error((where), ::ody::detail::cat(expected), ::ody::detail::cat(__VA_ARGS__)); \
  } while (0)
