#include "backends/mpi/environment.hpp"

#include <mpi.h>

#include "backends/mpi/check.hpp"
#include "base/error.hpp"

namespace ody::backends::mpi {

Environment::Environment(int* argc, char*** argv) {
  int initialized = 0, finalized = 0;
  ODY_MPI_CHECK(MPI_Initialized(&initialized));
  ODY_MPI_CHECK(MPI_Finalized(&finalized));
  if (finalized)
    throw Error("MPI environment", "MPI not yet finalized", "MPI_Finalize already called");
  if (!initialized) {
    ODY_MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &thread_level_));
    initialized_here_ = true;
  } else {
    ODY_MPI_CHECK(MPI_Query_thread(&thread_level_));
  }
}

Environment::~Environment() {
  if (!initialized_here_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace ody::backends::mpi
