// Pieces of LAMMPS input text the LAMMPS-level tests share: the study's two pair
// potentials and the formatting of numbers and quoted command lists.
#ifndef FLOWMAP_TESTS_INPUT_TEXT_H
#define FLOWMAP_TESTS_INPUT_TEXT_H

#include <cstdio>
#include <string>
#include <vector>

namespace flowmap_test {

// The source (WCA: LJ cut at the minimum, shifted) and target (LJ cut at 2.5, shifted).
inline const std::vector<std::string> kWcaLines = {"pair_style lj/cut 1.122462048309373",
                                                   "pair_coeff * * 1.0 1.0",
                                                   "pair_modify shift yes"};
inline const std::vector<std::string> kLjLines = {"pair_style lj/cut 2.5",
                                                  "pair_coeff * * 1.0 1.0 2.5",
                                                  "pair_modify shift yes"};

// The lines as `"line" "line" ...`, the way fix flowmap and compute ress take pair commands.
inline std::string quoted(const std::vector<std::string> &lines)
{
  std::string s;
  for (const auto &l : lines) s += " \"" + l + "\"";
  return s;
}

// All digits of a double, so that input text reproduces the value exactly.
inline std::string number(double v)
{
  char buf[32];
  snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}    // namespace flowmap_test

#endif
