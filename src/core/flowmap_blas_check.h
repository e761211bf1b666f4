/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: which BLAS LibTorch really multiplies matrices with, and how fast.

   Debian's LibTorch links libblas.so.3, which the alternatives system points at OpenBLAS or
   at the reference BLAS; the reference one makes training about 10x slower. OpenBLAS's own
   libopenblas.so.0 is a second alternative (pthread or OpenMP build). The check looks
   up which loaded object provides sgemm_ and times a float32 matrix product, so fix flowmap
   can warn with a concrete reason. It also spots OpenBLAS running AVX2 kernels on an
   AVX-512 CPU, which halves matrix-product speed on this project's machines.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_BLAS_CHECK_H
#define FLOWMAP_BLAS_CHECK_H

#include <string>
#include <vector>

namespace flowmap {

struct BlasReport {
  std::string provider;              // resolved path of the object providing sgemm_
  std::string name;                  // OpenBLAS, reference BLAS, MKL, BLIS, or unknown
  std::vector<std::string> loaded;   // loaded objects with blas or lapack in their name
  int threads = 0;                   // the BLAS library's own thread count, 0 if unknown
  std::string core;                  // OpenBLAS's kernel family (e.g. Haswell), if OpenBLAS
  std::string threading;             // OpenBLAS's build: OpenMP, pthreads or sequential
  // OpenBLAS chose its AVX-512 kernels. Those of 0.3.21 (Debian bookworm) gave wrong float64
  // gradients of the flow here (Flow.LogDetEqualsAutogradJacobian, Cooperlake and SkylakeX
  // kernels on an AMD EPYC); its AVX2 kernels, OPENBLAS_CORETYPE=Haswell, are right.
  bool avx512_kernels = false;
  double gflops = 0.0;               // float32 256^3 matrix product, current torch threads
  bool slow = false;                 // gflops below the threshold
  std::string summary;               // one line for the log
};

// About 50 ms of matrix products on the current LibTorch threads.
BlasReport check_blas(double slow_below_gflops = 5.0);

// torch::set_num_threads does not reach OpenBLAS, whose pthreads default to one per core
// and then compete with LibTorch's OpenMP threads; this sets OpenBLAS's count too. Returns
// false when the BLAS in use has no such control.
bool set_blas_threads(int threads);

}    // namespace flowmap

#endif
