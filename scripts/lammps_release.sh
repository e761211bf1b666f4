# Sourced by the project's scripts: the LAMMPS releases USER-FLOWMAP builds against, each a
# Debian source package (fetched with apt-get source, see scripts/setup.sh).
#
#   lammps_release_select 2025|2021   sets lammps_release, lammps_label, lammps_suite,
#                                     lammps_debian_version, lammps_orig_tarball, lammps_size,
#                                     lammps_build_name (the default build folder's name)
lammps_releases="2025 2021"
lammps_release_select() {
  lammps_release=$1
  case "$1" in
    2025)
      lammps_label="4 Feb 2025"
      lammps_suite=trixie
      lammps_debian_version=20250204+dfsg.1-2
      lammps_orig_tarball=lammps_20250204+dfsg.1.orig.tar.xz
      lammps_size="132 MB"
      lammps_build_name=build ;;
    2021)
      lammps_label="29 Sep 2021"
      lammps_suite=bookworm
      lammps_debian_version=20220106.git7586adbb6a+ds1-2
      lammps_orig_tarball=lammps_20220106.git7586adbb6a+ds1.orig.tar.xz
      lammps_size="80 MB"
      lammps_build_name=build-2021 ;;
    *)
      echo "FLOWMAP_LAMMPS=$1 is not a LAMMPS release this package builds against; choose one" \
        "of: $lammps_releases" >&2
      return 1 ;;
  esac
}
