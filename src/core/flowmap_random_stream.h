/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: a random stream whose whole state can be saved and restored.

   The exchange draws its Metropolis decisions and Maxwell-Boltzmann velocities from it, and a
   restarted run must continue with exactly the numbers an uninterrupted run would have drawn.
   The standard distributions cannot promise that (std::normal_distribution caches a value
   outside the engine, and their algorithms differ between libraries), so the draws are
   written out here over a 64-bit Mersenne twister, whose text state the standard defines.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_RANDOM_STREAM_H
#define FLOWMAP_RANDOM_STREAM_H

#include <cstdint>
#include <random>
#include <string>

namespace flowmap {

class RandomStream {
 public:
  // Streams with different (seed, stream) pairs are independent, e.g. one per partition
  // from the same seed.
  RandomStream(std::uint64_t seed, std::uint64_t stream);

  double uniform();    // in [0, 1), 53 random bits
  double normal();     // standard normal (Box-Muller, nothing cached between calls)

  std::string state() const;
  // std::invalid_argument for text that is not a state of this generator.
  void restore(const std::string &state);

 private:
  std::mt19937_64 engine_;
};

}    // namespace flowmap

#endif
