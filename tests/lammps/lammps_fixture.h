// Drives a LAMMPS instance from GoogleTest with the USER-FLOWMAP plugin loaded
// (after LAMMPS's own unittest/testing/core.h, using the exceptions of a
// LAMMPS_EXCEPTIONS build to check error messages).
#ifndef FLOWMAP_TESTS_LAMMPS_FIXTURE_H
#define FLOWMAP_TESTS_LAMMPS_FIXTURE_H

#include "exceptions.h"
#include "input.h"
#include "lammps.h"
#include "modify.h"
#include "variable.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowmap_test {

inline int world_rank()
{
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

inline int world_size()
{
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

// A LAMMPS instance (on MPI_COMM_WORLD unless told otherwise), quiet unless
// FLOWMAP_TEST_VERBOSE is set.
class LammpsRunner {
 public:
  explicit LammpsRunner(std::vector<std::string> extra_args = {}, MPI_Comm comm = MPI_COMM_WORLD)
  {
    std::vector<std::string> args = {"flowmap_test", "-log", "none", "-nocite"};
    if (!std::getenv("FLOWMAP_TEST_VERBOSE")) {
      args.push_back("-screen");
      args.push_back("none");
    }
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(const_cast<char *>(a.c_str()));
    lmp_ = std::make_unique<LAMMPS_NS::LAMMPS>(static_cast<int>(argv.size()), argv.data(), comm);
  }

  LAMMPS_NS::LAMMPS *lmp() { return lmp_.get(); }

  void command(const std::string &line) { lmp_->input->one(line); }

  void commands(const std::vector<std::string> &lines)
  {
    for (const auto &line : lines) command(line);
  }

  // Loads the plugin and checks that the styles arrived: `plugin load` only logs a failure.
  void load_plugin()
  {
    command(std::string("plugin load ") + FLOWMAP_PLUGIN);
    if (!lmp_->modify->fix_map->count("flowmap") || !lmp_->modify->compute_map->count("ress"))
      throw std::runtime_error(std::string("plugin load did not register fix flowmap and "
                                           "compute ress from ") + FLOWMAP_PLUGIN +
                               " (up to at least LAMMPS 29Sep2021 the plugin list is global: "
                               "only one live instance at a time can load a plugin)");
  }

  double equal_variable(const std::string &name)
  {
    std::string expr = "v_" + name;
    return lmp_->input->variable->compute_equal(&expr[0]);
  }

  // Runs one command that must fail; returns the error message (empty if it did not fail).
  std::string error_of(const std::string &line)
  {
    try {
      command(line);
    } catch (LAMMPS_NS::LAMMPSException &e) {
      return e.what();
    }
    return {};
  }

 private:
  std::unique_ptr<LAMMPS_NS::LAMMPS> lmp_;
};

// Every test starts from its own instance with the plugin loaded.
class LammpsTest : public ::testing::Test {
 protected:
  void SetUp() override
  {
    runner_ = std::make_unique<LammpsRunner>();
    runner_->load_plugin();
  }
  void TearDown() override { runner_.reset(); }

  LAMMPS_NS::LAMMPS *lmp() { return runner_->lmp(); }
  void command(const std::string &line) { runner_->command(line); }
  void commands(const std::vector<std::string> &lines) { runner_->commands(lines); }
  std::string error_of(const std::string &line) { return runner_->error_of(line); }
  double equal_variable(const std::string &name) { return runner_->equal_variable(name); }

  std::unique_ptr<LammpsRunner> runner_;
};

// The message without LAMMPS's "ERROR: " prefix and "(file:line)" suffix.
inline std::string bare_message(const std::string &message)
{
  std::string m = message;
  if (m.rfind("ERROR: ", 0) == 0) m = m.substr(7);
  const auto paren = m.rfind(" (");
  if (paren != std::string::npos) m = m.substr(0, paren);
  return m;
}

}    // namespace flowmap_test

#define EXPECT_LAMMPS_ERROR(runner_call, regex) \
  EXPECT_THAT(flowmap_test::bare_message(runner_call), ::testing::ContainsRegex(regex))

#endif
