#include "backends/ucx/check.hpp"

#include <string>

#include "base/error.hpp"

namespace ody::backends::ucx {

void throw_ucs_error(ucs_status_t status, const char* call, const char* file, int line) {
  throw Error(std::string("UCX error at ") + file + ":" + std::to_string(line) + " in `" + call +
              "`: " + ucs_status_string(status));
}

}  // namespace ody::backends::ucx
