// Initialises Kokkos once for the whole test binary (Kokkos 4 cannot re-initialise).
#include <gtest/gtest.h>

#include <memory>

#include "layers/views.hpp"

namespace {
class KokkosEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { scope_ = std::make_unique<ody::layers::KokkosScope>(); }
  void TearDown() override { scope_.reset(); }

 private:
  std::unique_ptr<ody::layers::KokkosScope> scope_;
};
[[maybe_unused]] ::testing::Environment* const kEnv =
    ::testing::AddGlobalTestEnvironment(new KokkosEnvironment);
}  // namespace
