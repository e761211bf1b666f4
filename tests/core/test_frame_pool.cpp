// The training pool: a ring buffer of frames with their energies, serialisable.
#include "flowmap_frame_pool.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

using flowmap::FramePool;

namespace {
std::vector<double> frame_of(double value) { return std::vector<double>(3 * 2, value); }
}    // namespace

TEST(FramePool, FillsThenReplacesOldest)
{
  FramePool pool(3, 3, 2);
  EXPECT_TRUE(pool.empty());
  for (int f = 0; f < 5; ++f) pool.add(frame_of(f).data(), -f);
  EXPECT_EQ(pool.size(), 3);
  EXPECT_EQ(pool.total_added(), 5);
  // frames 3 and 4 replaced frames 0 and 1 in their slots
  EXPECT_EQ(pool.positions()[0][0][0].item<double>(), 3.0);
  EXPECT_EQ(pool.positions()[1][2][1].item<double>(), 4.0);
  EXPECT_EQ(pool.positions()[2][1][0].item<double>(), 2.0);
  EXPECT_EQ(pool.energies()[1].item<double>(), -4.0);
  auto picked = pool.gather(torch::tensor({2, 0}, torch::kInt64));
  EXPECT_EQ(picked[0][0][0].item<double>(), 2.0);
  EXPECT_EQ(picked[1][0][0].item<double>(), 3.0);
}

TEST(FramePool, RoundTripKeepsRingOrder)
{
  FramePool pool(4, 3, 2);
  for (int f = 0; f < 6; ++f) pool.add(frame_of(f).data(), f * 0.5);
  torch::serialize::OutputArchive out;
  pool.write(out);
  std::stringstream bytes;
  out.save_to(bytes);

  FramePool restored(4, 3, 2);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  restored.read(in);
  EXPECT_TRUE(torch::equal(restored.positions(), pool.positions()));
  EXPECT_TRUE(torch::equal(restored.energies(), pool.energies()));
  EXPECT_EQ(restored.total_added(), 6);
  // the next frame must replace the same slot in both
  pool.add(frame_of(9).data(), 9.0);
  restored.add(frame_of(9).data(), 9.0);
  EXPECT_TRUE(torch::equal(restored.positions(), pool.positions()));
}

TEST(FramePool, RefusesFramesOfAnotherShape)
{
  FramePool pool(2, 3, 2);
  pool.add(frame_of(1).data(), 0.0);
  torch::serialize::OutputArchive out;
  pool.write(out);
  std::stringstream bytes;
  out.save_to(bytes);
  FramePool other(2, 4, 2);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  try {
    other.read(in);
    FAIL() << "a pool of 3-particle frames was read into a 4-particle pool";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("expected [4, 2]"), std::string::npos) << e.what();
  }
}

TEST(FramePool, RejectsNonsenseSizes)
{
  EXPECT_THROW(FramePool(0, 3, 2), std::invalid_argument);
  EXPECT_THROW(FramePool(5, 1, 2), std::invalid_argument);
}
