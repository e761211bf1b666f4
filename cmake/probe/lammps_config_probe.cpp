// Configure-time probe of an existing liblammps: how it was built, through the C library
// interface (no instance, no MPI start). Prints a CMake list of key=value pairs.
#include <cstdio>

extern "C" {
int lammps_config_has_mpi_support();
int lammps_config_has_exceptions();
int lammps_config_has_package(const char *);
int lammps_extract_setting(void *, const char *);
}

int main()
{
  std::printf("mpi=%d;exceptions=%d;plugin=%d;bigint=%d;tagint=%d;imageint=%d",
              lammps_config_has_mpi_support(), lammps_config_has_exceptions(),
              lammps_config_has_package("PLUGIN"), lammps_extract_setting(nullptr, "bigint"),
              lammps_extract_setting(nullptr, "tagint"), lammps_extract_setting(nullptr, "imageint"));
  return 0;
}
