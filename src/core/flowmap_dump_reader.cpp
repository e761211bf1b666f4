/* ----------------------------------------------------------------------
   USER-FLOWMAP: frames from LAMMPS text dump files.
------------------------------------------------------------------------- */

#include "flowmap_dump_reader.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace flowmap {

namespace {

std::vector<std::string> split(const std::string &line)
{
  std::vector<std::string> words;
  std::istringstream in(line);
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

bool starts_with(const std::string &s, const char *prefix)
{
  return s.compare(0, std::strlen(prefix), prefix) == 0;
}

}    // namespace

DumpReader::DumpReader(const std::string &path, int dimension) :
    path_(path), dimension_(dimension), buffer_(1 << 16)
{
  if (dimension_ != 2 && dimension_ != 3)
    throw DumpFormatError("dump reader: dimension must be 2 or 3");
  file_ = std::fopen(path.c_str(), "r");
  if (!file_)
    throw DumpFormatError("cannot open dump file " + path + ": " + std::strerror(errno));
  if (std::fseek(file_, 0, SEEK_END) == 0) {
    const long size = std::ftell(file_);
    if (size > 0) size_ = size;
  }
  std::rewind(file_);
}

DumpReader::~DumpReader()
{
  if (file_) std::fclose(file_);
}

void DumpReader::fail(const std::string &what) const
{
  throw DumpFormatError("dump file " + path_ + ", line " + std::to_string(line_number_) + ": " +
                        what);
}

bool DumpReader::read_line(std::string &line)
{
  line.clear();
  while (std::fgets(buffer_.data(), static_cast<int>(buffer_.size()), file_)) {
    line += buffer_.data();
    if (!line.empty() && line.back() == '\n') break;
  }
  if (line.empty()) return false;
  ++line_number_;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return true;
}

bool DumpReader::next(DumpFrame &frame)
{
  std::string line;
  do {
    if (!read_line(line)) return false;
  } while (line.find_first_not_of(" \t") == std::string::npos);
  if (!starts_with(line, "ITEM: TIMESTEP")) fail("expected 'ITEM: TIMESTEP', found '" + line + "'");
  if (!read_line(line)) fail("file ends inside a frame header");
  frame.timestep = std::strtoll(line.c_str(), nullptr, 10);

  if (!read_line(line) || !starts_with(line, "ITEM: NUMBER OF ATOMS"))
    fail("expected 'ITEM: NUMBER OF ATOMS'");
  if (!read_line(line)) fail("file ends inside a frame header");
  const long long natoms = std::strtoll(line.c_str(), nullptr, 10);
  if (natoms < 1) fail("frame has no atoms");

  if (!read_line(line) || !starts_with(line, "ITEM: BOX BOUNDS")) fail("expected 'ITEM: BOX BOUNDS'");
  if (line.find("xy") != std::string::npos)
    fail("triclinic boxes are not supported; USER-FLOWMAP needs an orthogonal periodic box");
  for (int k = 0; k < 3; ++k) {
    if (!read_line(line)) fail("file ends inside the box bounds");
    const auto words = split(line);
    if (words.size() < 2) fail("box bounds line needs 'lo hi'");
    frame.box_lo[k] = std::strtod(words[0].c_str(), nullptr);
    frame.box_hi[k] = std::strtod(words[1].c_str(), nullptr);
    if (k < dimension_ && !(std::isfinite(frame.box_lo[k]) && std::isfinite(frame.box_hi[k]) &&
                            frame.box_hi[k] > frame.box_lo[k]))
      fail("box bounds '" + line + "' are not two finite numbers lo < hi");
  }

  if (!read_line(line) || !starts_with(line, "ITEM: ATOMS")) fail("expected 'ITEM: ATOMS'");
  const auto columns = split(line.substr(std::strlen("ITEM: ATOMS")));
  int id_column = -1, type_column = -1, coord_column[3] = {-1, -1, -1};
  bool scaled = false;
  // Prefer unscaled over scaled and wrapped over unwrapped only for determinism; all work.
  const char *sets[4][3] = {{"x", "y", "z"}, {"xu", "yu", "zu"}, {"xs", "ys", "zs"},
                            {"xsu", "ysu", "zsu"}};
  for (int c = 0; c < static_cast<int>(columns.size()); ++c)
    if (columns[c] == "id") id_column = c;
    else if (columns[c] == "type") type_column = c;
  for (int s = 0; s < 4 && coord_column[0] < 0; ++s) {
    int found[3] = {-1, -1, -1};
    for (int k = 0; k < dimension_; ++k)
      for (int c = 0; c < static_cast<int>(columns.size()); ++c)
        if (columns[c] == sets[s][k]) found[k] = c;
    bool complete = true;
    for (int k = 0; k < dimension_; ++k) complete = complete && found[k] >= 0;
    if (complete) {
      std::copy(found, found + 3, coord_column);
      scaled = s >= 2;
    }
  }
  if (id_column < 0) fail("dump has no 'id' column; frames must be ordered by atom ID");
  if (coord_column[0] < 0) fail("dump has no complete set of x/xu/xs/xsu coordinate columns");

  // A damaged or foreign header must not make the reader allocate for atoms the file cannot
  // hold: every atom line has at least one character and a separator per column (the bound
  // is halved, so that a line short of a value still reaches the message naming it).
  if (size_ >= 0) {
    const long position = std::ftell(file_);
    const double room = static_cast<double>(size_ - (position > 0 ? position : 0)) /
        static_cast<double>(columns.size());
    if (static_cast<double>(natoms) > room)
      fail("file ends inside the atoms of a frame: the header claims " +
           std::to_string(natoms) + " atoms, but the rest of the file can hold at most " +
           std::to_string(static_cast<long long>(room)) + " atom lines");
  }
  frame.positions.assign(static_cast<std::size_t>(natoms) * dimension_, 0.0);
  frame.types.assign(type_column >= 0 ? static_cast<std::size_t>(natoms) : 0, 0);
  std::vector<char> seen(static_cast<std::size_t>(natoms), 0);
  for (long long i = 0; i < natoms; ++i) {
    if (!read_line(line)) fail("file ends inside the atoms of a frame");
    const auto words = split(line);
    if (words.size() != columns.size())
      fail("atom line has " + std::to_string(words.size()) + " values, the header names " +
           std::to_string(columns.size()));
    const long long id = std::strtoll(words[id_column].c_str(), nullptr, 10);
    if (id < 1 || id > natoms)
      fail("atom ID " + std::to_string(id) + " outside 1.." + std::to_string(natoms) +
           " (IDs must be contiguous)");
    if (seen[id - 1]) fail("atom ID " + std::to_string(id) + " appears twice");
    seen[id - 1] = 1;
    if (!frame.types.empty()) {
      // Type labels (dump_modify types labels) cannot be compared with numeric types: such a
      // frame is returned without types, as if the column were absent.
      char *end = nullptr;
      const long long type = std::strtoll(words[type_column].c_str(), &end, 10);
      if (*end != '\0' || type < 1) frame.types.clear();
      else frame.types[id - 1] = type;
    }
    for (int k = 0; k < dimension_; ++k) {
      double value = std::strtod(words[coord_column[k]].c_str(), nullptr);
      const double length = frame.box_hi[k] - frame.box_lo[k];
      if (scaled) value = frame.box_lo[k] + value * length;
      // Unwrapped coordinates may lie a few boxes away; beyond a million box lengths a
      // coordinate is damage (wrapping it would lose every digit), and NaN would poison the
      // training and validation that use the frame.
      if (!std::isfinite(value) || std::fabs(value - frame.box_lo[k]) > 1e6 * length)
        fail("atom ID " + std::to_string(id) + " has coordinate " + words[coord_column[k]] +
             (std::isfinite(value) ? ", more than a million box lengths outside the box"
                                   : ", which is not a finite number"));
      frame.positions[(id - 1) * dimension_ + k] = value;
    }
  }
  return true;
}

std::vector<double> read_frames(const std::vector<std::string> &files, int dimension,
                                std::int64_t natoms, const std::vector<double> &box,
                                const std::string &box_name, const Species &species,
                                std::vector<std::string> *untyped_files)
{
  std::vector<double> positions;
  DumpFrame frame;
  for (const auto &file : files) {
    DumpReader reader(file, dimension);
    while (reader.next(frame)) {
      const auto atoms = static_cast<std::int64_t>(frame.positions.size()) / dimension;
      if (atoms != natoms)
        throw DumpFormatError("dump file " + file + " has frames of " + std::to_string(atoms) +
                              " atoms, this system has " + std::to_string(natoms));
      for (int k = 0; k < dimension; ++k) {
        const double length = frame.box_hi[k] - frame.box_lo[k];
        if (std::fabs(length - box[k]) > 1e-6 * box[k]) {
          std::ostringstream msg;
          msg.precision(17);
          msg << "dump file " << file << " (step " << frame.timestep << ") has box length "
              << length << " along dimension " << k + 1 << ", " << box_name << " is " << box[k];
          throw DumpFormatError(msg.str());
        }
      }
      if (frame.types.empty() || !species.recorded() || frame.types == species.types()) {
        if (frame.types.empty() && untyped_files &&
            (untyped_files->empty() || untyped_files->back() != file))
          untyped_files->push_back(file);
        positions.insert(positions.end(), frame.positions.begin(), frame.positions.end());
        continue;
      }
      std::vector<double> relabelled;
      try {
        relabelled = relabel(frame.positions, species.relabelling(frame.types), dimension);
      } catch (std::invalid_argument &e) {
        throw DumpFormatError("dump file " + file + " (step " + std::to_string(frame.timestep) +
                              "): " + e.what());
      }
      positions.insert(positions.end(), relabelled.begin(), relabelled.end());
    }
  }
  return positions;
}

}    // namespace flowmap
