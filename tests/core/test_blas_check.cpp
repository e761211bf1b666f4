// The BLAS check finds the library behind LibTorch's sgemm_ and measures it.
#include "flowmap_blas_check.h"

#include <torch/torch.h>

#include <cctype>
#include <cstdlib>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace flowmap;
using ::testing::HasSubstr;

TEST(BlasCheck, FindsTheProviderAndMeasuresIt)
{
  const auto report = check_blas();
  // LibTorch calls sgemm_, so some loaded object provides it
  EXPECT_FALSE(report.provider.empty());
  EXPECT_NE(report.name, "unknown");
  EXPECT_FALSE(report.loaded.empty());
  EXPECT_GT(report.gflops, 0.0);
  EXPECT_THAT(report.summary, HasSubstr(report.name));
  EXPECT_THAT(report.summary, HasSubstr("GFLOP/s"));
  if (report.name == "OpenBLAS") EXPECT_FALSE(report.core.empty());
  std::string core;
  for (char c : report.core) core += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(report.avx512_kernels, core == "skylakex" || core == "cooperlake" ||
                                       core == "sapphirerapids" || core == "zen4" || core == "zen5");
  if (report.avx512_kernels)
    EXPECT_THAT(report.summary, HasSubstr("OPENBLAS_CORETYPE=Haswell"));
}

// The project's scripts choose OpenBLAS's OpenMP build through the environment
// (scripts/blas_env.sh sets FLOWMAP_BLAS_DIR and LD_LIBRARY_PATH); the library that really
// runs must be that build, whatever the system's alternatives point at.
TEST(BlasCheck, TheEnvironmentsChoiceIsTheBuildThatRuns)
{
  const char *chosen = std::getenv("FLOWMAP_BLAS_DIR");
  if (!chosen || !*chosen) GTEST_SKIP() << "not started through scripts/blas_env.sh";
  const auto report = check_blas();
  EXPECT_EQ(report.name, "OpenBLAS");
  EXPECT_EQ(report.threading, "OpenMP");
  EXPECT_THAT(report.summary, HasSubstr("OpenMP build"));
  EXPECT_THAT(report.provider, HasSubstr("openblas-openmp"));
}

TEST(BlasCheck, SlowFlagFollowsTheThreshold)
{
  const auto never = check_blas(0.0);
  EXPECT_FALSE(never.slow);
  const auto always = check_blas(1e9);
  EXPECT_TRUE(always.slow);
  EXPECT_THAT(always.summary, HasSubstr("slow"));
}

TEST(BlasCheck, BlasThreadCountIsSetWhereTheLibraryAllowsIt)
{
  // As fix flowmap does: OpenBLAS's pthread build keeps its own count, its OpenMP build
  // follows the OpenMP threads LibTorch sets; both together give 1 with either build.
  torch::set_num_threads(1);
  const bool controllable = set_blas_threads(1);
  EXPECT_EQ(controllable, check_blas().name == "OpenBLAS");
  if (!controllable) GTEST_SKIP() << "BLAS without a thread control";
  EXPECT_EQ(check_blas().threads, 1);
}
