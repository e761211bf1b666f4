// Frames from LAMMPS text dumps: column layouts, scaled coordinates, ordering by ID, atom
// types, errors.
#include "flowmap_dump_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

using flowmap::DumpFormatError;
using flowmap::DumpFrame;
using flowmap::DumpReader;

namespace {
std::string write_file(const std::string &name, const std::string &text)
{
  std::ofstream(name) << text;
  return name;
}

const char *kHeader = "ITEM: TIMESTEP\n%d\nITEM: NUMBER OF ATOMS\n3\n"
                      "ITEM: BOX BOUNDS pp pp pp\n-1.0 3.0\n0.0 2.0\n-0.5 0.5\n";

std::string header(int step)
{
  char buf[256];
  std::snprintf(buf, sizeof buf, kHeader, step);
  return buf;
}
}    // namespace

TEST(DumpReader, ReadsCustomColumnsOrderedById)
{
  const auto path = write_file("custom.dump",
                               header(100) + "ITEM: ATOMS type id y x z\n"
                                             "1 3 0.3 2.5 0\n1 1 0.1 -0.5 0\n2 2 0.2 1.5 0\n" +
                                   header(200) + "ITEM: ATOMS id type x y z\n"
                                                 "2 1 7 8 0\n1 1 5 6 0\n3 1 9 10 0\n");
  DumpReader reader(path, 2);
  DumpFrame frame;
  ASSERT_TRUE(reader.next(frame));
  EXPECT_EQ(frame.timestep, 100);
  EXPECT_EQ(frame.positions, (std::vector<double>{-0.5, 0.1, 1.5, 0.2, 2.5, 0.3}));
  EXPECT_EQ(frame.types, (std::vector<std::int64_t>{1, 2, 1}));    // ordered by ID too
  EXPECT_DOUBLE_EQ(frame.box_hi[0] - frame.box_lo[0], 4.0);
  ASSERT_TRUE(reader.next(frame));
  EXPECT_EQ(frame.timestep, 200);
  EXPECT_EQ(frame.positions, (std::vector<double>{5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(frame.types, (std::vector<std::int64_t>{1, 1, 1}));
  EXPECT_FALSE(reader.next(frame));
}

TEST(DumpReader, TypesOnlyFromANumericTypeColumn)
{
  // no type column, then type labels (dump_modify types labels): both give no types
  const auto path = write_file("untyped.dump",
                               header(1) + "ITEM: ATOMS id x y\n1 0 0\n2 1 1\n3 2 2\n" +
                                   header(2) + "ITEM: ATOMS id type x y\n1 A 0 0\n2 B 1 1\n"
                                               "3 A 2 2\n");
  DumpReader reader(path, 2);
  DumpFrame frame;
  ASSERT_TRUE(reader.next(frame));
  EXPECT_TRUE(frame.types.empty());
  ASSERT_TRUE(reader.next(frame));
  EXPECT_TRUE(frame.types.empty());
  EXPECT_EQ(frame.positions, (std::vector<double>{0, 0, 1, 1, 2, 2}));
}

TEST(DumpReader, ConvertsScaledCoordinates)
{
  const auto path = write_file("scaled.dump", header(0) + "ITEM: ATOMS id type xs ys zs\n"
                                                          "1 1 0.25 0.5 0.5\n"
                                                          "2 1 0.0 1.0 0.5\n"
                                                          "3 1 0.5 0.0 0.5\n");
  DumpReader reader(path, 3);
  DumpFrame frame;
  ASSERT_TRUE(reader.next(frame));
  // x = lo + s (hi - lo): box x [-1, 3], y [0, 2], z [-0.5, 0.5]
  EXPECT_EQ(frame.positions, (std::vector<double>{0.0, 1.0, 0.0, -1.0, 2.0, 0.0, 1.0, 0.0, 0.0}));
}

TEST(DumpReader, ErrorsNameTheProblem)
{
  DumpFrame frame;
  auto expect_error = [&](const std::string &text, const std::string &needle) {
    const auto path = write_file("bad.dump", text);
    try {
      DumpReader reader(path, 2);
      while (reader.next(frame)) {}
      ADD_FAILURE() << "no error for: " << needle;
    } catch (const DumpFormatError &e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr(needle));
    }
  };
  expect_error(header(0) + "ITEM: ATOMS type x y z\n1 0 0 0\n1 0 0 0\n1 0 0 0\n", "no 'id' column");
  expect_error(header(0) + "ITEM: ATOMS id type z\n1 1 0\n2 1 0\n3 1 0\n", "coordinate columns");
  expect_error(header(0) + "ITEM: ATOMS id x y\n1 0 0\n1 0 0\n3 0 0\n", "appears twice");
  expect_error(header(0) + "ITEM: ATOMS id x y\n1 0 0\n2 0 0\n", "ends inside the atoms");
  expect_error(header(0) + "ITEM: ATOMS id x y\n1 0 0\n2 0\n3 0 0\n", "has 2 values");
  expect_error("ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n1\nITEM: BOX BOUNDS xy xz yz pp pp pp\n"
               "0 1 0\n0 1 0\n0 1 0\nITEM: ATOMS id x y\n1 0 0\n",
               "triclinic");
  expect_error("hello\n", "expected 'ITEM: TIMESTEP'");
  // Damage a frames file can carry: refused by name, before allocating for the atoms.
  expect_error(header(0) + "ITEM: ATOMS id x y\n1 0 0\n2 nan 0\n3 0 0\n",
               "line 11: atom ID 2 has coordinate nan, which is not a finite number");
  expect_error(header(0) + "ITEM: ATOMS id x y\n1 0 0\n2 0 1e300\n3 0 0\n",
               "atom ID 2 has coordinate 1e300, more than a million box lengths outside");
  expect_error("ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n1000000000000000\n"
               "ITEM: BOX BOUNDS pp pp pp\n0 4\n0 2\n-0.5 0.5\nITEM: ATOMS id x y\n1 0 0\n",
               "the header claims 1000000000000000 atoms, but the rest of the file can hold at "
               "most 2 atom lines");
  expect_error("ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n1\nITEM: BOX BOUNDS pp pp pp\n"
               "0 inf\n0 2\n-0.5 0.5\nITEM: ATOMS id x y\n1 0 0\n",
               "box bounds '0 inf' are not two finite numbers lo < hi");
  try {
    DumpReader reader("does-not-exist.dump", 2);
    ADD_FAILURE() << "opened a missing file";
  } catch (const DumpFormatError &e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("cannot open dump file does-not-exist.dump"));
  }
}

TEST(DumpReader, ReadFramesChecksEveryBox)
{
  const auto path =
      write_file("boxes.dump", header(0) + "ITEM: ATOMS id x y\n1 0 0\n2 1 1\n3 2 0\n" +
                                   header(5) + "ITEM: ATOMS id x y\n1 0 1\n2 1 0\n3 2 1\n");
  const auto frames = flowmap::read_frames({path, path}, 2, 3, {4.0, 2.0}, "the target box");
  ASSERT_EQ(frames.size(), 4u * 6u);
  EXPECT_EQ(frames[6 + 1], 1.0);    // frame 2, atom 1, y
  try {
    flowmap::read_frames({path}, 2, 3, {4.0, 2.5}, "the target ensemble's box");
    ADD_FAILURE() << "a box of another size was accepted";
  } catch (const DumpFormatError &e) {
    EXPECT_THAT(e.what(),
                ::testing::HasSubstr("dump file boxes.dump (step 0) has box length 2 along "
                                     "dimension 2, the target ensemble's box is 2.5"));
  }
}
