#include "backends/mpi/check.hpp"

#include <unistd.h>

#include "base/error.hpp"

namespace ody::backends::mpi {

std::string describe_mpi_error(int code, const char* call, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) {
    std::snprintf(text, sizeof text, "unknown MPI error code %d", code);
  }
  int rank = -1, initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return "MPI error on rank " + std::to_string(rank) + " (host " + host + ") at " + file + ":" +
         std::to_string(line) + " in `" + call + "`: " + text;
}

void throw_mpi_error(int code, const char* call, const char* file, int line) {
  throw Error(describe_mpi_error(code, call, file, line));
}

}  // namespace ody::backends::mpi
