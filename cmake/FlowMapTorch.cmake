# LibTorch (Debian's libtorch-dev, CPU). Debian's build links whatever BLAS the alternatives
# system provides; scripts/setup.sh installs OpenBLAS and the core checks the speed at run time.
find_package(Torch REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
message(STATUS "USER-FLOWMAP: LibTorch ${Torch_VERSION}")
