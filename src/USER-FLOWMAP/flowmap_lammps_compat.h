/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the one place where LAMMPS releases differ for this package.

   Supported: 29 Sep 2021 (Debian bookworm's LAMMPS) to 4 Feb 2025 and later.
   FLOWMAP_LAMMPS_VERSION is the tree's version as yyyymmdd, derived from src/version.h by
   the package's CMake (plugin build, or the in-tree hook USER-FLOWMAP/flowmap_builtin.cmake).
------------------------------------------------------------------------- */

#ifndef LMP_FLOWMAP_LAMMPS_COMPAT_H
#define LMP_FLOWMAP_LAMMPS_COMPAT_H

#ifndef FLOWMAP_LAMMPS_VERSION
#error "FLOWMAP_LAMMPS_VERSION is not defined. Build USER-FLOWMAP through its CMake: as a plugin (cmake -S <flowmap> -D LAMMPS_SOURCE_DIR=...) or in-tree with the hook USER-FLOWMAP/flowmap_builtin.cmake; both derive it from LAMMPS's src/version.h."
#endif

#include "compute.h"
#include "exceptions.h"
#include "fix.h"
#include "modify.h"
#include "neighbor.h"
#if FLOWMAP_LAMMPS_VERSION < 20220324
#include "neigh_request.h"
#endif

#include <string>
#include <vector>

namespace LAMMPS_NS {
namespace flowmap_compat {

// LAMMPS's error text without its trailing newline (the message member became protected in
// 2023; what() exists in every supported release).
inline std::string message_of(const LAMMPSException &e)
{
  std::string m = e.what();
  while (!m.empty() && (m.back() == '\n' || m.back() == '\r')) m.pop_back();
  return m;
}

// nullptr when there is no fix (compute) with that ID.
inline Fix *find_fix(Modify *modify, const std::string &id)
{
#if FLOWMAP_LAMMPS_VERSION >= 20220324
  return modify->get_fix_by_id(id);
#else
  const int i = modify->find_fix(id);
  return i < 0 ? nullptr : modify->fix[i];
#endif
}

inline Compute *find_compute(Modify *modify, const std::string &id)
{
#if FLOWMAP_LAMMPS_VERSION >= 20220324
  return modify->get_compute_by_id(id);
#else
  const int i = modify->find_compute(id);
  return i < 0 ? nullptr : modify->compute[i];
#endif
}

// A perpetual half neighbor list for a compute (instance_me: the compute's own, protected).
inline void request_half_list(Neighbor *neighbor, Compute *compute, int instance_me)
{
#if FLOWMAP_LAMMPS_VERSION >= 20220324
  (void) instance_me;
  neighbor->add_request(compute);
#else
  const int irequest = neighbor->request(compute, instance_me);
  neighbor->requests[irequest]->pair = 0;
  neighbor->requests[irequest]->compute = 1;
#endif
}

// Words joined by sep (fmt::join moved to a header LAMMPS does not always include).
inline std::string join(const std::vector<std::string> &words, const std::string &sep)
{
  std::string out;
  for (const auto &w : words) out += (out.empty() ? "" : sep) + w;
  return out;
}

}    // namespace flowmap_compat
}    // namespace LAMMPS_NS

#endif
