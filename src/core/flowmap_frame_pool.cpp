/* ----------------------------------------------------------------------
   USER-FLOWMAP: a pool of decorrelated frames for training.
------------------------------------------------------------------------- */

#include "flowmap_frame_pool.h"

#include <stdexcept>
#include <string>

namespace flowmap {

FramePool::FramePool(std::int64_t capacity, std::int64_t num_particles, std::int64_t dimension)
{
  if (capacity < 1 || num_particles < 2 || dimension < 1)
    throw std::invalid_argument("FramePool needs capacity >= 1, at least 2 particles and a "
                                "positive dimension");
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  positions_ = torch::zeros({capacity, num_particles, dimension}, f64);
  energies_ = torch::zeros({capacity}, f64);
}

void FramePool::add(const double *positions, double energy)
{
  const auto per_frame = positions_.size(1) * positions_.size(2);
  std::copy(positions, positions + per_frame, positions_[next_].data_ptr<double>());
  energies_[next_] = energy;
  next_ = (next_ + 1) % capacity();
  size_ = std::min(size_ + 1, capacity());
  ++total_added_;
}

torch::Tensor FramePool::gather(const torch::Tensor &indices) const
{
  return positions_.index_select(0, indices);
}

void FramePool::write(torch::serialize::OutputArchive &archive) const
{
  archive.write("positions", positions());
  archive.write("energies", energies());
  archive.write("state", torch::tensor({capacity(), next_, total_added_}, torch::kInt64));
}

void FramePool::read(torch::serialize::InputArchive &archive)
{
  torch::Tensor positions, energies, state;
  archive.read("positions", positions);
  archive.read("energies", energies);
  archive.read("state", state);
  if (positions.dim() != 3 || positions.size(1) != positions_.size(1) ||
      positions.size(2) != positions_.size(2))
    throw std::runtime_error("stored frame pool holds frames of shape " +
                             c10::str(positions.sizes().slice(1)) + ", expected [" +
                             std::to_string(positions_.size(1)) + ", " +
                             std::to_string(positions_.size(2)) + "]");
  const auto stored_capacity = state[0].item<std::int64_t>();
  const auto stored_next = state[1].item<std::int64_t>();
  const auto n = positions.size(0);
  // Keep the stored order of the ring so that later replacements hit the same frames as in an
  // uninterrupted run; a different capacity cannot reproduce that and restarts the ring.
  if (stored_capacity == capacity()) {
    positions_.narrow(0, 0, n).copy_(positions);
    energies_.narrow(0, 0, n).copy_(energies);
    size_ = n;
    next_ = stored_next;
  } else {
    const auto keep = std::min(n, capacity());
    positions_.narrow(0, 0, keep).copy_(positions.narrow(0, n - keep, keep));
    energies_.narrow(0, 0, keep).copy_(energies.narrow(0, n - keep, keep));
    size_ = keep;
    next_ = keep % capacity();
  }
  total_added_ = state[2].item<std::int64_t>();
}

}    // namespace flowmap
