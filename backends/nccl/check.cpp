#include "backends/nccl/check.hpp"

#include <string>

#include "base/error.hpp"

namespace ody::backends::nccl {

void throw_cuda(cudaError_t err, const char* call, const char* file, int line) {
  throw Error(std::string("backend nccl: ") + call + " failed at " + file + ":" +
              std::to_string(line) + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) +
              ")");
}

void throw_nccl(ncclResult_t res, ncclComm_t comm, const char* call, const char* file, int line) {
  std::string msg = std::string("backend nccl: ") + call + " failed at " + file + ":" +
                    std::to_string(line) + ": " + ncclGetErrorString(res);
  if (comm) {
    const char* last = ncclGetLastError(comm);
    if (last && *last) msg += std::string(" (") + last + ")";
  }
  throw Error(msg);
}

}  // namespace ody::backends::nccl
