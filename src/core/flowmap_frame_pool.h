/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: a pool of decorrelated frames for training.

   A ring buffer: once full, each new frame replaces the oldest, so a long run keeps
   streaming fresh configurations and the flow never sees the same few too often.
   Every frame carries its potential energy in its own Hamiltonian (needed for weights).
------------------------------------------------------------------------- */

#ifndef FLOWMAP_FRAME_POOL_H
#define FLOWMAP_FRAME_POOL_H

#include <torch/torch.h>

#include <cstdint>

namespace flowmap {

class FramePool {
 public:
  FramePool(std::int64_t capacity, std::int64_t num_particles, std::int64_t dimension);

  // positions: num_particles * dimension values, particle-major.
  void add(const double *positions, double energy);

  std::int64_t size() const { return size_; }
  std::int64_t capacity() const { return positions_.size(0); }
  std::int64_t total_added() const { return total_added_; }
  bool empty() const { return size_ == 0; }

  // The filled part: [size, N, d] and [size] float64 (views, not copies).
  torch::Tensor positions() const { return positions_.narrow(0, 0, size_); }
  torch::Tensor energies() const { return energies_.narrow(0, 0, size_); }

  // Frames at the given indices: [len, N, d] float64 (a copy).
  torch::Tensor gather(const torch::Tensor &indices) const;

  void write(torch::serialize::OutputArchive &archive) const;
  // Restores a pool written by write(); the stored shape must match this pool's N and d.
  void read(torch::serialize::InputArchive &archive);

 private:
  torch::Tensor positions_;    // [capacity, N, d]
  torch::Tensor energies_;     // [capacity]
  std::int64_t size_ = 0;
  std::int64_t next_ = 0;      // slot the next frame goes to
  std::int64_t total_added_ = 0;
};

}    // namespace flowmap

#endif
