// LAMMPS output files as the LAMMPS-level tests read them back.
#ifndef FLOWMAP_TESTS_OUTPUT_FILES_H
#define FLOWMAP_TESTS_OUTPUT_FILES_H

#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace flowmap_test {

// Per-step values of a fix ave/time file with one value per line: step -> value.
inline std::map<long, double> read_series(const std::string &path)
{
  std::map<long, double> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    long step;
    double value;
    if (s >> step >> value) out[step] = value;
  }
  return out;
}

}    // namespace flowmap_test

#endif
