// Stands in for a liblammps.so built with other settings, so the configure-time checks of the
// existing-LAMMPS route can be shown to refuse it: it answers the C library interface's
// configuration queries as -D VERSION_LABEL and -D EXCEPTIONS say.
#include <cstring>

extern "C" {
const char *fake_lammps_version() { return VERSION_LABEL; }
int lammps_config_has_mpi_support() { return 1; }
int lammps_config_has_exceptions() { return EXCEPTIONS; }
int lammps_config_has_package(const char *name) { return std::strcmp(name, "PLUGIN") == 0; }
int lammps_extract_setting(void *, const char *keyword)
{
  return std::strcmp(keyword, "bigint") == 0 ? 8 : 4;
}
}
