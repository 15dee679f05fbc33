#pragma once
// The message of the ody::Error that f() throws, or "(no error)" when it returns: what the
// tests of bad input compare against the rule each error must name.
#include <string>

#include "base/error.hpp"

namespace ody::test {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace ody::test
