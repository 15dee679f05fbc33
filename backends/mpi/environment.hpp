#pragma once
// RAII initialisation of MPI. Initialises MPI (asking for MPI_THREAD_MULTIPLE so that a
// progress or watchdog thread may call MPI) unless the host program already did, and
// finalises only what it initialised. Construct one in main(), before any communicator,
// and let it outlive them.
namespace ody::backends::mpi {

class Environment {
 public:
  Environment() : Environment(nullptr, nullptr) {}
  Environment(int* argc, char*** argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  bool initialized_here() const { return initialized_here_; }
  // The thread level MPI provides (MPI_THREAD_*).
  int thread_level() const { return thread_level_; }

 private:
  bool initialized_here_ = false;
  int thread_level_ = 0;
};

}  // namespace ody::backends::mpi
