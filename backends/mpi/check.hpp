#pragma once
// Every MPI call goes through ODY_MPI_CHECK: on failure it throws ody::Error carrying
// the world rank, host name, file:line, the call and MPI's own error string. Our
// communicators use MPI_ERRORS_RETURN so that failures come back as codes.
#include <mpi.h>

#include <string>

namespace ody::backends::mpi {

// Builds the message "MPI error on rank R (host H) at file:line in `call`: <MPI string>".
std::string describe_mpi_error(int code, const char* call, const char* file, int line);
[[noreturn]] void throw_mpi_error(int code, const char* call, const char* file, int line);

}  // namespace ody::backends::mpi

#define ODY_MPI_CHECK(call)                                                          \
  do {                                                                               \
    const int ody_mpi_rc_ = (call);                                                  \
    if (ody_mpi_rc_ != MPI_SUCCESS)                                                  \
      ::ody::backends::mpi::throw_mpi_error(ody_mpi_rc_, #call, __FILE__, __LINE__); \
  } while (0)
