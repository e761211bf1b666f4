# Sourced by the project's scripts (sh and bash), and by users before running lmp or ctest by
# hand: chooses the BLAS for this process and its children only, through the environment.
#
# LibTorch calls libblas.so.3, which Debian resolves through the alternatives system (the
# reference BLAS, 10x slower, or OpenBLAS), and OpenBLAS's libblas.so.3 calls libopenblas.so.0,
# another alternative (the pthread build runs when it is installed, whatever libblas.so.3 says).
# The OpenMP build shares the OpenMP thread pool of LibTorch instead of fighting it for the cores,
# so both libraries are taken from its folder by LD_LIBRARY_PATH; the system's alternatives stay
# as they are. FLOWMAP_BLAS_DIR says which folder was chosen (empty: none found).
FLOWMAP_BLAS_DIR=
for _flowmap_dir in /usr/lib/"$(gcc -print-multiarch 2>/dev/null)"/openblas-openmp \
    /usr/lib/*/openblas-openmp; do
  if [ -e "$_flowmap_dir/libblas.so.3" ] && [ -e "$_flowmap_dir/libopenblas.so.0" ]; then
    FLOWMAP_BLAS_DIR=$_flowmap_dir
    break
  fi
done
unset _flowmap_dir
if [ -n "$FLOWMAP_BLAS_DIR" ]; then
  case ":${LD_LIBRARY_PATH:-}:" in
    *":$FLOWMAP_BLAS_DIR:"*) ;;
    *) LD_LIBRARY_PATH=$FLOWMAP_BLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ;;
  esac
  export LD_LIBRARY_PATH
fi
export FLOWMAP_BLAS_DIR

# OpenBLAS 0.3.21, Debian bookworm's, picks its AVX-512 kernels (SkylakeX, Cooperlake) on CPUs
# that have AVX-512, and those gave wrong float64 gradients of the flow (tests/core/test_flow.cpp,
# LogDetEqualsAutogradJacobian, on an AMD EPYC, 2 Dec 2026); its AVX2 kernels are right. A value
# the caller set is kept.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=Haswell
fi
