# LibTorch (Debian's libtorch-dev, CPU). Debian's build links whatever BLAS the alternatives
# system provides; scripts/setup.sh installs OpenBLAS and the core checks the speed at run time.
find_package(Torch REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
# A CUDA LibTorch lists its CUDA libraries; without them fix flowmap refuses device cuda.
if(TORCH_CUDA_LIBRARIES OR CAFFE2_USE_CUDA)
  message(STATUS "USER-FLOWMAP: LibTorch ${Torch_VERSION} (CUDA)")
else()
  message(STATUS "USER-FLOWMAP: LibTorch ${Torch_VERSION} (CPU only: device cuda is refused)")
endif()
