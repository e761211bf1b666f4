// LAMMPS output files as the LAMMPS-level tests read them back.
#ifndef FLOWMAP_TESTS_OUTPUT_FILES_H
#define FLOWMAP_TESTS_OUTPUT_FILES_H

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace flowmap_test {

// The data lines of a LAMMPS text output (fix ave/time, compute ress, the weights and
// attempts files of the fixes): comment and blank lines left out.
inline std::vector<std::string> data_lines(const std::string &path)
{
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  return lines;
}

// The numbers of each data line.
inline std::vector<std::vector<double>> read_rows(const std::string &path)
{
  std::vector<std::vector<double>> rows;
  for (const auto &line : data_lines(path)) {
    std::istringstream fields(line);
    std::vector<double> row;
    double value;
    while (fields >> value) row.push_back(value);
    rows.push_back(row);
  }
  return rows;
}

// Per-step values of a fix ave/time file with one value per line: step -> value.
inline std::map<long, double> read_series(const std::string &path)
{
  std::map<long, double> out;
  for (const auto &row : read_rows(path))
    if (row.size() >= 2) out[static_cast<long>(row[0])] = row[1];
  return out;
}

// A line of the weights file of fix flowmap: the frame's step, its energy in the state it
// came from, its image's energy and log-weight, and the same for the identity map.
struct WeightRow {
  long step;
  double u_from, u_to, log_w, u_to_identity, log_w_identity;
};

// Every data line is a row: one with fewer than six numbers gets NaN (step -1) for what it
// lacks, so that a test comparing it fails instead of skipping it.
inline std::vector<WeightRow> read_weights(const std::string &path)
{
  std::vector<WeightRow> out;
  for (auto row : read_rows(path)) {
    const long step = row.empty() ? -1 : static_cast<long>(row[0]);
    row.resize(std::max<std::size_t>(row.size(), 6), std::numeric_limits<double>::quiet_NaN());
    out.push_back({step, row[1], row[2], row[3], row[4], row[5]});
  }
  return out;
}

}    // namespace flowmap_test

#endif
