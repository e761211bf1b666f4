# Sourced by the project's scripts (sh and bash). OpenBLAS 0.3.21, Debian bookworm's, picks its
# AVX-512 kernels (SkylakeX, Cooperlake) on CPUs that have AVX-512, and those gave wrong
# float64 gradients of the flow (tests/core/test_flow.cpp, LogDetEqualsAutogradJacobian, on
# an AMD EPYC, 2 Dec 2026); its AVX2 kernels are right. A value the caller set is kept.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=Haswell
fi
