/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the Fortran BLAS matrix product of the process, called directly.
   LibTorch links a BLAS (OpenBLAS on Debian) but reaches it through its own dispatch, which
   costs more than the product for the small matrices of one configuration.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_BLAS_GEMM_H
#define FLOWMAP_BLAS_GEMM_H

#include <dlfcn.h>

namespace flowmap {

template <typename T>
using GemmFunction = void (*)(const char *, const char *, const int *, const int *, const int *,
                              const T *, const T *, const int *, const T *, const int *, const T *,
                              T *, const int *);

// sgemm_ (float) or dgemm_ (double) as resolved in the process; null when absent.
template <typename T> GemmFunction<T> blas_gemm()
{
  static const auto f = reinterpret_cast<GemmFunction<T>>(
      ::dlsym(RTLD_DEFAULT, sizeof(T) == sizeof(float) ? "sgemm_" : "dgemm_"));
  return f;
}

}    // namespace flowmap

#endif
