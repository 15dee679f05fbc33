#pragma once
// Every UCX call that returns a status goes through ODY_UCS_CHECK: on failure it throws
// ody::Error with the call, file:line and UCX's own status string.
#include <ucs/type/status.h>

namespace ody::backends::ucx {

[[noreturn]] void throw_ucs_error(ucs_status_t status, const char* call, const char* file,
                                  int line);

}  // namespace ody::backends::ucx

#define ODY_UCS_CHECK(call)                                                          \
  do {                                                                               \
    const ucs_status_t ody_ucs_st_ = (call);                                         \
    if (ody_ucs_st_ != UCS_OK)                                                       \
      ::ody::backends::ucx::throw_ucs_error(ody_ucs_st_, #call, __FILE__, __LINE__); \
  } while (0)
