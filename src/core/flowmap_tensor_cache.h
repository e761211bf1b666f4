/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: a caching CPU allocator for LibTorch tensors.

   LibTorch's CPU allocator hands every tensor to malloc, and glibc serves blocks of a few
   MB and more with fresh mmap'ed pages: each training step then page-faults and zeroes
   every activation again (a third to three quarters of a step's time here, see
   bench/README.md). A training or mapping loop allocates the same sizes every iteration,
   so keeping freed blocks by size and handing them out again removes that cost entirely.
   Opt-in and process-wide; memory freed by tensors stays cached up to a limit.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_TENSOR_CACHE_H
#define FLOWMAP_TENSOR_CACHE_H

#include <cstddef>

namespace flowmap {

struct TensorCacheStats {
  std::size_t hits = 0, misses = 0;    // allocations served from the cache / by the system
  std::size_t cached_bytes = 0;        // freed blocks held for reuse
  std::size_t live_bytes = 0;          // blocks currently owned by tensors
};

// Make LibTorch allocate CPU tensors through the cache (idempotent). Blocks freed while
// more than limit_bytes are cached go back to the system.
void enable_tensor_cache(std::size_t limit_bytes = std::size_t{4} << 30);
bool tensor_cache_enabled();
// Give all cached (unused) blocks back to the system.
void release_tensor_cache();
TensorCacheStats tensor_cache_stats();

}    // namespace flowmap

#endif
