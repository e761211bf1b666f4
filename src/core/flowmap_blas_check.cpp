/* ----------------------------------------------------------------------
   USER-FLOWMAP: BLAS identification and speed.
------------------------------------------------------------------------- */

#include "flowmap_blas_check.h"

#include <torch/torch.h>

#include <cctype>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <dlfcn.h>
#include <link.h>
#include <sstream>

namespace flowmap {

namespace {

std::string resolved(const char *path)
{
  char buffer[PATH_MAX];
  return path && ::realpath(path, buffer) ? std::string(buffer) : std::string(path ? path : "");
}

std::string classify(const std::string &path)
{
  auto has = [&](const char *s) { return path.find(s) != std::string::npos; };
  if (has("openblas")) return "OpenBLAS";
  if (has("mkl")) return "MKL";
  if (has("blis")) return "BLIS";
  if (has("libblas")) return "reference BLAS";
  return "unknown";
}

int collect(struct dl_phdr_info *info, std::size_t, void *data)
{
  const std::string name = info->dlpi_name ? info->dlpi_name : "";
  if (name.find("blas") != std::string::npos || name.find("lapack") != std::string::npos)
    static_cast<std::vector<std::string> *>(data)->push_back(resolved(name.c_str()));
  return 0;
}

int blas_threads()
{
  using getter = int (*)();
  const auto get = reinterpret_cast<getter>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return get ? get() : 0;
}

// openblas_get_parallel: 0 sequential, 1 pthreads, 2 OpenMP.
std::string openblas_threading()
{
  using getter = int (*)();
  const auto get = reinterpret_cast<getter>(::dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
  if (!get) return "";
  switch (get()) {
    case 0: return "sequential";
    case 1: return "pthreads";
    case 2: return "OpenMP";
    default: return "";
  }
}

std::string openblas_core()
{
  using getter = char *(*)();
  const auto get = reinterpret_cast<getter>(::dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  const char *name = get ? get() : nullptr;
  return name ? name : "";
}

// OpenBLAS kernel families that use AVX-512 (names as openblas_get_corename spells them).
bool avx512_core(const std::string &core)
{
  std::string lower;
  for (char c : core) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char *name : {"skylakex", "cooperlake", "sapphirerapids", "zen4", "zen5"})
    if (lower == name) return true;
  return false;
}

double matmul_gflops()
{
  torch::NoGradGuard no_grad;
  const std::int64_t n = 256;
  const auto a = torch::rand({n, n}), b = torch::rand({n, n});
  auto c = torch::mm(a, b);    // warm-up: thread pool and BLAS initialisation
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  int reps = 0;
  double seconds = 0.0;
  do {
    c = torch::mm(a, b);
    ++reps;
    seconds = std::chrono::duration<double>(clock::now() - start).count();
  } while (seconds < 0.05 && reps < 1000);
  return 2.0 * n * n * n * reps / seconds * 1e-9;
}

}    // namespace

BlasReport check_blas(double slow_below_gflops)
{
  BlasReport r;
  // The same global lookup the dynamic linker used for LibTorch's sgemm_ calls.
  Dl_info info{};
  void *symbol = ::dlsym(RTLD_DEFAULT, "sgemm_");
  if (symbol && ::dladdr(symbol, &info)) r.provider = resolved(info.dli_fname);
  r.name = r.provider.empty() ? "unknown" : classify(r.provider);
  ::dl_iterate_phdr(collect, &r.loaded);
  r.threads = blas_threads();
  r.core = openblas_core();
  r.threading = openblas_threading();
  r.avx512_kernels = avx512_core(r.core);
  r.gflops = matmul_gflops();
  r.slow = r.gflops < slow_below_gflops;
  std::ostringstream s;
  s.precision(3);
  // flowmap_attention calls the same sgemm_ directly, or falls back to LibTorch's matmul.
  s << "BLAS: " << r.name;
  if (!r.threading.empty()) s << " (" << r.threading << " build)";
  s << " (" 
    << (r.provider.empty() ? "sgemm_ not found: attention through LibTorch's slower matmul"
                           : r.provider)
    << "), float32 matmul " << r.gflops << " GFLOP/s with " << torch::get_num_threads()
    << " LibTorch threads";
  if (r.threads > 0) s << " and " << r.threads << " BLAS threads";
  if (!r.core.empty()) s << ", " << r.core << " kernels";
  if (r.avx512_kernels)
    s << " -- OpenBLAS 0.3.21's AVX-512 kernels gave wrong float64 gradients in this package's "
      << "tests: start with OPENBLAS_CORETYPE=Haswell in the environment";
  // Debian resolves libblas.so.3 and libopenblas.so.0 through two alternatives; the package's
  // scripts pick OpenBLAS's OpenMP build for their own processes by LD_LIBRARY_PATH
  // (scripts/blas_env.sh), which is what the advice below says to do by hand.
  const char *advice = "put OpenBLAS's OpenMP build first, LD_LIBRARY_PATH=/usr/lib/<multiarch>/"
                       "openblas-openmp (package libopenblas0-openmp; scripts/blas_env.sh does it)";
  if (r.threading == "pthreads")
    s << " -- OpenBLAS's pthread build: its threads compete with LibTorch's OpenMP threads for "
      << "the cores; " << advice;
  if (r.slow)
    s << " -- slow (below " << slow_below_gflops << " GFLOP/s): " << advice;
  r.summary = s.str();
  return r;
}

bool set_blas_threads(int threads)
{
  using setter = void (*)(int);
  const auto set = reinterpret_cast<setter>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!set) return false;
  set(threads);
  return true;
}

}    // namespace flowmap
