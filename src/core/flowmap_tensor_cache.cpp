/* ----------------------------------------------------------------------
   USER-FLOWMAP: caching CPU allocator.
------------------------------------------------------------------------- */

#include "flowmap_tensor_cache.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace flowmap {

namespace {

// 64-byte alignment as LibTorch's own allocator (AVX-512 loads).
constexpr std::size_t kAlignment = 64;

std::size_t rounded(std::size_t n)
{
  return (std::max<std::size_t>(n, 1) + kAlignment - 1) / kAlignment * kAlignment;
}

class CachingAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t n) const override
  {
    void *p = instance().take(rounded(n));
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  static CachingAllocator &instance()
  {
    // Never destroyed: tensors may be freed during static destruction at exit.
    static auto *self = new CachingAllocator;
    return *self;
  }

  void set_limit(std::size_t limit)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = limit;
  }

  void release_all()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto &[size, blocks] : free_)
      for (void *p : blocks) std::free(p);
    free_.clear();
    stats_.cached_bytes = 0;
  }

  TensorCacheStats stats()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void *>> free_;    // by rounded size
  std::unordered_map<void *, std::size_t> sizes_;                // of every live block
  std::size_t limit_ = 0;
  TensorCacheStats stats_;

  void *take(std::size_t size)
  {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void *p = it->second.back();
        it->second.pop_back();
        sizes_[p] = size;
        ++stats_.hits;
        stats_.cached_bytes -= size;
        stats_.live_bytes += size;
        return p;
      }
    }
    void *p = std::aligned_alloc(kAlignment, size);
    if (!p) throw std::bad_alloc();
    std::lock_guard<std::mutex> lock(mutex_);
    sizes_[p] = size;
    ++stats_.misses;
    stats_.live_bytes += size;
    return p;
  }

  static void release(void *p)
  {
    if (!p) return;
    auto &self = instance();
    std::unique_lock<std::mutex> lock(self.mutex_);
    const auto it = self.sizes_.find(p);
    if (it == self.sizes_.end()) {    // not ours: nothing to account for
      lock.unlock();
      std::free(p);
      return;
    }
    const std::size_t size = it->second;
    self.sizes_.erase(it);
    self.stats_.live_bytes -= size;
    if (self.stats_.cached_bytes + size > self.limit_) {
      lock.unlock();
      std::free(p);
      return;
    }
    self.free_[size].push_back(p);
    self.stats_.cached_bytes += size;
  }
};

bool enabled = false;
std::mutex enable_mutex;

}    // namespace

void enable_tensor_cache(std::size_t limit_bytes)
{
  std::lock_guard<std::mutex> lock(enable_mutex);
  auto &allocator = CachingAllocator::instance();
  allocator.set_limit(limit_bytes);
  if (enabled) return;
  // Priority above the default one, so a later registration at default priority cannot
  // silently take over.
  c10::SetCPUAllocator(&allocator, 1);
  enabled = true;
}

bool tensor_cache_enabled()
{
  std::lock_guard<std::mutex> lock(enable_mutex);
  return enabled;
}

void release_tensor_cache()
{
  CachingAllocator::instance().release_all();
}

TensorCacheStats tensor_cache_stats()
{
  return CachingAllocator::instance().stats();
}

}    // namespace flowmap
