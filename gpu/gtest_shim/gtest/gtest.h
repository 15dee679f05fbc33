#pragma once
// Not GoogleTest: the one piece of it that tests/kernels/attention_test_util.hpp uses
// (::testing::AssertionResult, AssertionSuccess, AssertionFailure), so that the GPU
// check (gpu/attention_cuda_check.cpp) can include that header as it is and share its
// problems, references and tolerance rule with tests/kernels/attention_cuda_test.cpp on a
// machine without GoogleTest. Only gpu/CMakeLists.txt puts this folder on an include path.
#include <sstream>
#include <string>

namespace testing {

class AssertionResult {
 public:
  explicit AssertionResult(bool success) : success_(success) {}
  explicit operator bool() const { return success_; }
  const char* message() const { return message_.c_str(); }
  template <class X>
  AssertionResult& operator<<(const X& x) {
    std::ostringstream os;
    os << x;
    message_ += os.str();
    return *this;
  }

 private:
  bool success_;
  std::string message_;
};

inline AssertionResult AssertionSuccess() { return AssertionResult(true); }
inline AssertionResult AssertionFailure() { return AssertionResult(false); }

}  // namespace testing
