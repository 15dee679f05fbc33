// MPI-specific behaviour: error reports, MPI's int count limit, tolerance of an MPI the
// host program initialised, and the backend registry.
#include <gtest/gtest.h>
#include <mpi.h>

#include <climits>

#include "backends/mpi/check.hpp"
#include "backends/mpi/communicator.hpp"
#include "backends/mpi/environment.hpp"
#include "backends/registry.hpp"
#include "base/error.hpp"

namespace ody::backends::mpi {
namespace {

TEST(MpiBackend, CheckReportsRankHostLocationAndMpiString) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  try {
    ODY_MPI_CHECK(MPI_ERR_COUNT);
    FAIL() << "no throw";
  } catch (const ody::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rank " + std::to_string(rank)), std::string::npos) << m;
    EXPECT_NE(m.find("host "), std::string::npos) << m;
    EXPECT_NE(m.find("mpi_backend_test.cpp:"), std::string::npos) << m;
    EXPECT_NE(m.find("MPI_ERR_COUNT"), std::string::npos) << m;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(MPI_ERR_COUNT, text, &len);
    EXPECT_NE(m.find(text), std::string::npos) << m;
  }
}

TEST(MpiBackend, EnvironmentToleratesExistingInit) {
  // The test main already initialised MPI: a second Environment must neither fail nor
  // finalise it.
  {
    Environment env;
    EXPECT_FALSE(env.initialized_here());
    EXPECT_GE(env.thread_level(), MPI_THREAD_SINGLE);
  }
  int finalized = 1;
  MPI_Finalized(&finalized);
  EXPECT_EQ(finalized, 0);
}

TEST(MpiBackend, CountsBeyondIntAreRejected) {
  auto world = create_world("mpi");
  comm::Buf huge{reinterpret_cast<void*>(0x1000), static_cast<std::int64_t>(INT_MAX) + 1,
                 comm::DType::u8, comm::MemoryKind::host};
  EXPECT_THROW(world->broadcast(huge, 0), ody::Error);
}

TEST(MpiBackend, RegistryNamesTheChoices) {
  try {
    create_world("carrier-pigeon");
    FAIL();
  } catch (const ody::Error& e) {
    EXPECT_NE(std::string(e.what()).find("one of mpi"), std::string::npos) << e.what();
  }
  auto world = create_world("mpi");
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_EQ(world->size(), size);
  EXPECT_EQ(world->info().name, "mpi");
  EXPECT_FALSE(world->info().device_memory);
}

}  // namespace
}  // namespace ody::backends::mpi
