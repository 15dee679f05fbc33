// GoogleTest main for tests that run under mpiexec: initialises MPI, lets only rank 0
// print progress (every rank still prints its failures), and makes the exit code non-zero
// on every rank when any rank failed, so mpiexec reports the failure.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <string>

#include "backends/mpi/environment.hpp"
#include "support/blas_kernel_hook.hpp"
#include "support/test_args.hpp"

namespace ody::test {
namespace {
std::string g_backend = "mpi";
}
const std::string& backend_name() { return g_backend; }
}  // namespace ody::test

namespace {

class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_,
                   r.file_name() ? r.file_name() : "?", r.line_number(), r.summary());
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  ody::test::use_best_blas_kernel(argv);  // before MPI starts: it may re-execute the test
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--ody-backend=", 14) == 0) ody::test::g_backend = argv[i] + 14;
  ody::backends::mpi::Environment env(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(rank));
  }
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return any_failed;
}
