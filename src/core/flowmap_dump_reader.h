/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: frames from LAMMPS text dump files.

   Target (or source) frames for the NLL loss and for the B -> A direction come from
   ordinary `dump atom` / `dump custom` files of another run. The reader needs an `id` column
   and one set of coordinates (x y z, xs ys zs, xu yu zu or xsu ysu zsu); frames are returned
   ordered by atom ID, with the atoms' types when the dump has a `type` column, so that the
   frames of a mixture can be checked against the system's types. Only orthogonal boxes are
   read.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_DUMP_READER_H
#define FLOWMAP_DUMP_READER_H

#include "flowmap_species.h"

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowmap {

class DumpFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DumpFrame {
  std::int64_t timestep = 0;
  double box_lo[3] = {0, 0, 0}, box_hi[3] = {0, 0, 0};
  std::vector<double> positions;    // N * dimension, ordered by atom ID
  std::vector<std::int64_t> types;  // N, ordered by atom ID; empty without a numeric type column
};

class DumpReader {
 public:
  // dimension: how many coordinates per atom to keep (2 or 3).
  DumpReader(const std::string &path, int dimension);
  ~DumpReader();
  DumpReader(const DumpReader &) = delete;
  DumpReader &operator=(const DumpReader &) = delete;

  // Reads the next frame; false at the end of the file. Throws DumpFormatError naming the
  // file and line for anything it cannot use: a header claiming more atoms than the rest of
  // the file can hold (before allocating for them), box bounds that are not finite, a
  // coordinate that is not finite or lies more than a million box lengths outside the box.
  bool next(DumpFrame &frame);

 private:
  bool read_line(std::string &line);
  [[noreturn]] void fail(const std::string &what) const;

  std::string path_;
  int dimension_;
  std::FILE *file_ = nullptr;
  std::int64_t line_number_ = 0;
  long size_ = -1;    // bytes in the file; -1 when unknown (a pipe)
  std::vector<char> buffer_;
};

// Every frame of the files, concatenated (frames x natoms x dimension values): each must hold
// natoms atoms in a box of the given lengths (relative tolerance 1e-6; box_name names it in
// messages, e.g. "the target ensemble's box"). DumpFormatError otherwise. With recorded
// species, a frame whose type column holds the same atoms relabelled (a swap run) is
// relabelled to the species' order (Species::relabelling), one with other counts of the types
// refused; the files without a type column are appended to untyped_files (when not null):
// their atoms are taken to have the species' types by atom ID.
std::vector<double> read_frames(const std::vector<std::string> &files, int dimension,
                                std::int64_t natoms, const std::vector<double> &box,
                                const std::string &box_name, const Species &species = {},
                                std::vector<std::string> *untyped_files = nullptr);

}    // namespace flowmap

#endif
