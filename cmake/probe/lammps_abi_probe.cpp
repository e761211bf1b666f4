// Links only when liblammps's std::string has the C++ ABI the package is compiled with (that of
// LibTorch, passed as _GLIBCXX_USE_CXX11_ABI): both must agree for one process to hold them.
#include <string>

namespace LAMMPS_NS {
namespace utils {
  std::string trim(const std::string &line);
}
}    // namespace LAMMPS_NS

int main()
{
  return LAMMPS_NS::utils::trim(" x ") == "x" ? 0 : 1;
}
