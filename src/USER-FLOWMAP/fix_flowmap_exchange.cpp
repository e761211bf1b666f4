/* ----------------------------------------------------------------------
   USER-FLOWMAP: fix flowmap/exchange
------------------------------------------------------------------------- */

#include "fix_flowmap_exchange.h"

#include "flowmap_blas_check.h"
#include "flowmap_collective.h"
#include "flowmap_exchange.h"
#include "flowmap_lammps_bridge.h"
#include "flowmap_lammps_compat.h"
#include "flowmap_lammps_energy_check.h"
#include "flowmap_lammps_frame.h"
#include "flowmap_lammps_pair_commands.h"
#include "flowmap_model_file.h"
#include "flowmap_random_stream.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "irregular.h"
#include "pair.h"
#include "universe.h"
#include "update.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>

using namespace LAMMPS_NS;
using namespace FixConst;

namespace {

// Global vector, in the order documented in doc/fix_flowmap_exchange.rst.
enum Output {
  ATTEMPTS, ACCEPTED, RATE, RECENT_RATE, LOG_ALPHA, SWAPPED, MEAN_PROBABILITY,
  MEAN_PROBABILITY_IDENTITY, LOG_ALPHA_IDENTITY, NONFINITE, SECONDS, LOG_WEIGHT_FORWARD,
  LOG_WEIGHT_INVERSE, NUM_OUTPUTS
};

// Message tags on universe->uworld, distinct from those of temper and the other replica
// commands.
constexpr int kTagHandshake = 0x4d46;
constexpr int kTagSide = 0x4d47;
constexpr int kTagDecision = 0x4d48;

constexpr double kRestartVersion = 1.0;

const char *const kRoleNames[2] = {"source", "target"};

std::vector<std::string> split(const std::string &text, char separator)
{
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(text);
  while (std::getline(in, field, separator)) fields.push_back(field);
  return fields;
}

double seconds_since(std::chrono::steady_clock::time_point t)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}    // namespace

/* ---------------------------------------------------------------------- */

FixFlowMapExchange::FixFlowMapExchange(LAMMPS *lmp, int narg, char **arg) :
    Fix(lmp, narg, arg), role_(universe->iworld == 1 ? TARGET : SOURCE)
{
  if (narg < 6)
    error->all(FLERR, "Illegal fix flowmap/exchange command: expected fix ID group "
               "flowmap/exchange N Tsource Ttarget keyword value ...");
  if (universe->nworlds != 2)
    error->all(FLERR, "Fix flowmap/exchange needs exactly 2 partitions, one per state (mpirun "
               "-np 2M lmp -partition 2xM); this run has {}", universe->nworlds);
  nevery = utils::inumeric(FLERR, arg[3], false, lmp);
  if (nevery <= 0) error->all(FLERR, "Fix flowmap/exchange N must be > 0, got {}", arg[3]);
  parse(narg, arg);

  vector_flag = 1;
  size_vector = NUM_OUTPUTS;
  global_freq = 1;
  extvector = 0;
  restart_global = 1;
  // Atoms move in pre_exchange() of the attempt steps; forcing a neighbor-list build there
  // makes LAMMPS migrate them, rebuild the lists and compute forces of the new positions.
  force_reneighbor = 1;
  next_reneighbor = -1;

  other_root_ = universe->root_proc[1 - universe->iworld];
  frame_ = std::make_unique<FlowMapFrame>(lmp, "fix flowmap/exchange", FlowMapFrame::Box::fixed);
  statistics_ = std::make_unique<flowmap::ExchangeStatistics>(window_);
  // The role picks the stream, so the two partitions draw independent numbers from one seed.
  random_ = std::make_unique<flowmap::RandomStream>(seed_, role_);
  irregular_ = std::make_unique<Irregular>(lmp);
}

FixFlowMapExchange::~FixFlowMapExchange()
{
  if (fp_) fclose(fp_);
}

void FixFlowMapExchange::parse(int narg, char **arg)
{
  temperature_[SOURCE] = utils::numeric(FLERR, arg[4], false, lmp);
  temperature_[TARGET] = utils::numeric(FLERR, arg[5], false, lmp);
  // strtod reads 1e999 as infinity
  if (!(temperature_[SOURCE] > 0.0 && temperature_[TARGET] > 0.0 &&
        std::isfinite(temperature_[SOURCE]) && std::isfinite(temperature_[TARGET])))
    error->all(FLERR, "Fix flowmap/exchange temperatures must be > 0 and finite, got Tsource = {} and "
               "Ttarget = {}", arg[4], arg[5]);

  auto need = [&](int iarg) {
    if (iarg + 1 >= narg)
      error->all(FLERR, "Fix flowmap/exchange keyword {} needs a value", arg[iarg]);
  };
  bool have_seed = false;
  int iarg = 6;
  while (iarg < narg) {
    const std::string key = arg[iarg];
    if (key == "source" || key == "target") {
      auto &commands = pair_commands_[key == "source" ? SOURCE : TARGET];
      commands = pair_commands_at(lmp, narg - iarg - 1, arg + iarg + 1);
      if (commands.empty())
        error->all(FLERR, "Fix flowmap/exchange {} needs one or more quoted pair commands, e.g. "
                   "{} \"pair_style lj/cut 2.5\" \"pair_coeff * * 1.0 1.0\"", key, key);
      iarg += 1 + static_cast<int>(commands.size());
      continue;
    }
    need(iarg);
    const std::string value = arg[iarg + 1];
    if (key == "load") {
      load_ = value;
    } else if (key == "seed") {
      seed_ = utils::inumeric(FLERR, value.c_str(), false, lmp);
      if (seed_ <= 0)
        error->all(FLERR, "Fix flowmap/exchange seed must be a positive integer, got {}", value);
      have_seed = true;
    } else if (key == "state") {
      if (value == "source") role_ = SOURCE;
      else if (value == "target") role_ = TARGET;
      else error->all(FLERR, "Fix flowmap/exchange state must be source or target (the state "
                      "this partition samples), got {}", value);
    } else if (key == "velocity") {
      if (value == "redraw") redraw_ = true;
      else if (value == "keep") redraw_ = false;
      else error->all(FLERR, "Fix flowmap/exchange velocity must be redraw or keep, got {}",
                      value);
    } else if (key == "window") {
      window_ = utils::inumeric(FLERR, value.c_str(), false, lmp);
      if (window_ <= 0)
        error->all(FLERR, "Fix flowmap/exchange window must be a positive integer, got {}",
                   value);
    } else if (key == "file") {
      file_name_ = value;
    } else {
      error->all(FLERR, "Unknown fix flowmap/exchange keyword {}; see "
                 "doc/fix_flowmap_exchange.rst for the keywords", key);
    }
    iarg += 2;
  }

  if (pair_commands_[SOURCE].empty() || pair_commands_[TARGET].empty())
    error->all(FLERR, "Fix flowmap/exchange needs both the source and the target Hamiltonian as "
               "pair commands (keywords source and target)");
  if (load_.empty())
    error->all(FLERR, "Fix flowmap/exchange needs a flow: load FILE (a model file written by fix "
               "flowmap) or load identity (ordinary replica exchange)");
  if (!have_seed)
    error->all(FLERR, "Fix flowmap/exchange needs a random seed: seed S (a positive integer)");
}

// At the first setup, not at the fix command: a failure that only one partition meets (a
// file it cannot read or write) must stop both, or the other would wait for it forever.
// The partition root holds the flow and writes the attempts file.
void FixFlowMapExchange::prepare()
{
  std::string failure = pending_failure_;
  if (comm->me == 0 && failure.empty()) {
    try {
      if (load_ != "identity") {
        model_ = std::make_unique<flowmap::FlowModel>(flowmap::load_model(load_));
        fingerprint_ = flowmap::model_fingerprint(*model_);
      }
      if (role_ == SOURCE && !file_name_.empty()) {
        fp_ = fopen(file_name_.c_str(), "w");
        if (!fp_)
          throw std::runtime_error(fmt::format("cannot open file {}: {}", file_name_,
                                               utils::getsyserror()));
        fmt::print(fp_, "# fix flowmap/exchange {}: one line per exchange attempt\n"
                   "# step lw_fwd lw_inv log_alpha accepted log_alpha_identity energy_source "
                   "energy_target\n", id);
        fflush(fp_);
      }
    } catch (std::exception &err) {
      failure = fmt::format("{}: {}", partition_name(universe->iworld, role_), err.what());
    }
  }
  fail_together(failure);
  MPI_Bcast(&fingerprint_, 1, MPI_INT64_T, 0, world);
  int recorded = 0;
  if (model_) {
    for (const auto t : model_->species().types()) model_types_.push_back(static_cast<int>(t));
    recorded = static_cast<int>(model_types_.size());
  }
  MPI_Bcast(&recorded, 1, MPI_INT, 0, world);
  model_types_.resize(recorded);
  if (recorded > 0) MPI_Bcast(model_types_.data(), recorded, MPI_INT, 0, world);
  if (model_) {
    const auto &meta = model_->metadata();
    if (meta.source_temperature != temperature_[SOURCE] ||
        meta.target_temperature != temperature_[TARGET])
      error->warning(FLERR, "Fix flowmap/exchange: the flow was trained for Tsource = {}, "
                     "Ttarget = {}; the exchange uses the temperatures of this fix ({}, {})",
                     meta.source_temperature, meta.target_temperature, temperature_[SOURCE],
                     temperature_[TARGET]);
  }

  // One frame at a time: LibTorch and OpenBLAS get LAMMPS's threads per rank, not the whole
  // machine the other partition's processes share.
  const int threads = std::max(1, comm->nthreads);
  torch::set_num_threads(threads);
  flowmap::set_blas_threads(threads);
  prepared_ = true;
}

int FixFlowMapExchange::setmask()
{
  return PRE_EXCHANGE;
}

/* ----------------------------------------------------------------------
   setup: both partitions check that they run the same exchange, then the roots build
   the energy bridges for the two boxes
------------------------------------------------------------------------- */

void FixFlowMapExchange::setup(int)
{
  // The system checks raise LAMMPS errors on this partition only; both must stop.
  std::string failure;
  try {
    frame_->check_system(igroup);
  } catch (LAMMPSException &err) {
    failure = fmt::format("{}: {}", partition_name(universe->iworld, role_),
                          flowmap_compat::message_of(err));
  }
  fail_together(failure);
  if (!prepared_) prepare();
  handshake();
  build_bridges();
  check_own_energy();
  // Attempts on multiples of N, so that a restarted run attempts on the same steps as an
  // uninterrupted one.
  next_reneighbor = (update->ntimestep / nevery + 1) * nevery;
}

std::string FixFlowMapExchange::partition_name(int world, int role) const
{
  return fmt::format("partition {} ({})", world + 1, kRoleNames[role]);
}

// Everything both partitions must agree on, one field per line.
std::string FixFlowMapExchange::describe() const
{
  const int d = frame_->dimension();
  std::vector<std::string> types, box;
  for (int t : frame_->types()) types.push_back(std::to_string(t));
  for (int k = 0; k < d; ++k) box.push_back(fmt::format("{:.17g}", frame_->box_lengths()[k]));
  const std::vector<std::string> fields = {
      std::to_string(role_),
      std::to_string(nevery),
      std::to_string(update->ntimestep),
      std::to_string(update->laststep),
      fmt::format("{:.17g} {:.17g}", temperature_[SOURCE], temperature_[TARGET]),
      update->unit_style,
      std::to_string(frame_->natoms()),
      std::to_string(d),
      flowmap_compat::join(box, " "),
      flowmap_compat::join(types, " "),
      flowmap_compat::join(pair_commands_[SOURCE], " ; "),
      flowmap_compat::join(pair_commands_[TARGET], " ; "),
      load_ == "identity" ? load_ : std::to_string(fingerprint_),
      load_};
  return flowmap_compat::join(fields, "\n");
}

void FixFlowMapExchange::handshake()
{
  const std::string mine = describe();
  std::string theirs;
  if (comm->me == 0) {
    int length = static_cast<int>(mine.size()), their_length = 0;
    MPI_Sendrecv(&length, 1, MPI_INT, other_root_, kTagHandshake, &their_length, 1, MPI_INT,
                 other_root_, kTagHandshake, universe->uworld, MPI_STATUS_IGNORE);
    theirs.resize(their_length);
    MPI_Sendrecv(mine.data(), length, MPI_CHAR, other_root_, kTagHandshake, &theirs[0],
                 their_length, MPI_CHAR, other_root_, kTagHandshake, universe->uworld,
                 MPI_STATUS_IGNORE);
  }
  flowmap::broadcast_string(theirs, 0, world);

  // Both partitions see the same two descriptions and reach the same verdict, so an error is
  // raised on both and neither waits for the other.
  const int me = universe->iworld, other = 1 - me;
  std::vector<std::string> field[2];
  field[me] = split(mine, '\n');
  field[other] = split(theirs, '\n');
  constexpr int kFields = 14;
  if (field[0].size() != kFields || field[1].size() != kFields)
    error->all(FLERR, "Fix flowmap/exchange: the other partition does not run the same version "
               "of fix flowmap/exchange");
  const int role[2] = {std::stoi(field[0][0]), std::stoi(field[1][0])};
  const std::string name[2] = {partition_name(0, role[0]), partition_name(1, role[1])};
  auto differ = [&](int i) { return field[0][i] != field[1][i]; };

  if (role[0] == role[1])
    error->all(FLERR, "Fix flowmap/exchange: both partitions sample the {} state; one must "
               "sample the source and the other the target (keyword state, e.g. with variable "
               "s world source target ... state ${{s}})", kRoleNames[role[0]]);
  if (differ(1))
    error->all(FLERR, "Fix flowmap/exchange attempts every {} steps on {} and every {} on {}: "
               "N must be the same", field[0][1], name[0], field[1][1], name[1]);
  if (differ(2))
    error->all(FLERR, "Fix flowmap/exchange: {} is at step {} and {} at step {}; both "
               "partitions must run the same steps", name[0], field[0][2], name[1], field[1][2]);
  if (differ(3))
    error->all(FLERR, "Fix flowmap/exchange: the run of {} ends at step {} and that of {} at "
               "step {}; both partitions must run the same steps", name[0], field[0][3],
               name[1], field[1][3]);
  if (differ(4))
    error->all(FLERR, "Fix flowmap/exchange: Tsource and Ttarget are {} on {} and {} on {}; "
               "they must be the same", field[0][4], name[0], field[1][4], name[1]);
  if (differ(5))
    error->all(FLERR, "Fix flowmap/exchange: {} uses units {} and {} units {}", name[0],
               field[0][5], name[1], field[1][5]);
  if (differ(6))
    error->all(FLERR, "Fix flowmap/exchange: {} has {} atoms and {} has {}; both states need "
               "the same atoms", name[0], field[0][6], name[1], field[1][6]);
  if (differ(7))
    error->all(FLERR, "Fix flowmap/exchange: {} is {}D and {} is {}D", name[0], field[0][7],
               name[1], field[1][7]);
  if (differ(10) || differ(11)) {
    const int e = differ(10) ? 10 : 11;
    error->all(FLERR, "Fix flowmap/exchange: the {} pair commands are \"{}\" on {} and \"{}\" "
               "on {}; they must be the same", e == 10 ? "source" : "target", field[0][e],
               name[0], field[1][e], name[1]);
  }
  if (differ(12))
    error->all(FLERR, "Fix flowmap/exchange: {} exchanges through {} and {} through {}; both "
               "must load the same flow", name[0], field[0][13], name[1], field[1][13]);

  adopt_common_types(field, role, name);

  // The boxes: each state's from the partition that samples it.
  const int source = role[0] == SOURCE ? 0 : 1;
  std::vector<double> boxes[2];
  for (int w = 0; w < 2; ++w)
    for (const auto &l : split(field[w][8], ' '))
      boxes[w == source ? SOURCE : TARGET].push_back(std::stod(l));
  states_.num_particles = frame_->natoms();
  states_.dimension = frame_->dimension();
  states_.source_box = boxes[SOURCE];
  states_.target_box = boxes[TARGET];
  states_.beta_source = 1.0 / (force->boltz * temperature_[SOURCE]);
  states_.beta_target = 1.0 / (force->boltz * temperature_[TARGET]);
}

// Swap moves (fix atom/swap) exchange types between atoms, so the partitions (and the flow)
// may hold one composition with different types by atom ID. Exchanging the labels of two atoms
// of one species leaves every Boltzmann weight unchanged, so both partitions take one order,
// the flow's if it records one (its input rows must be the species it was trained on), else
// the source partition's, and gather their frames relabelled to it; place() puts each row back
// on the atom it came from. The relabelling keeps the order of IDs within a species, so the
// k-th atom of a type on one partition always meets the k-th on the other, whichever order is
// common: a restarted run, which takes the order afresh, pairs the atoms as before.
void FixFlowMapExchange::adopt_common_types(const std::vector<std::string> (&field)[2],
                                            const int (&role)[2], const std::string (&name)[2])
{
  constexpr int kTypes = 9;
  std::vector<int> types[2];
  for (int w = 0; w < 2; ++w)
    for (const auto &t : split(field[w][kTypes], ' ')) types[w].push_back(std::stoi(t));
  auto sorted = [](std::vector<int> t) {
    std::sort(t.begin(), t.end());
    return t;
  };
  auto describe_types = [](const std::vector<int> &t) {
    return flowmap::Species(std::vector<std::int64_t>(t.begin(), t.end())).describe();
  };
  if (sorted(types[0]) != sorted(types[1]))
    error->all(FLERR, "Fix flowmap/exchange: {} holds {} and {} holds {}; both states need the "
               "same number of atoms of each type", name[0], describe_types(types[0]), name[1],
               describe_types(types[1]));

  const int source = role[0] == SOURCE ? 0 : 1;
  // A flow of another composition is refused in build_bridges(), naming both.
  const bool flow_order = !model_types_.empty() && sorted(model_types_) == sorted(types[source]);
  const auto &common = flow_order ? model_types_ : types[source];
  const int me = universe->iworld;
  if (common == types[me]) return;
  frame_->adopt_types(common);
  if (comm->me == 0)
    utils::logmesg(lmp, "Fix flowmap/exchange: {} holds its types by atom ID in another order "
                   "than {} (swap moves); its frames are relabelled within each species\n",
                   name[me], flow_order ? "the flow" : name[source]);
}

// The roots' energy bridges, one per Hamiltonian in its state's box, and the check that the
// flow was made for these two boxes and this composition.
void FixFlowMapExchange::build_bridges()
{
  std::string failure;
  if (comm->me == 0) {
    try {
      if (model_) {
        flowmap::check_model_matches(*model_, states_.num_particles, states_.dimension,
                                     states_.source_box, states_.target_box);
        flowmap::check_model_species(*model_, frame_->species());
      }
      for (int e = 0; e < 2; ++e) {
        const auto &box = e == SOURCE ? states_.source_box : states_.target_box;
        if (bridges_[e] && bridge_boxes_[e] == box) continue;
        try {
          bridges_[e] =
              std::make_unique<FlowMapBridge>(frame_->bridge_setup(box, pair_commands_[e]));
        } catch (std::exception &err) {
          throw std::runtime_error(fmt::format("{} Hamiltonian: {}", kRoleNames[e], err.what()));
        }
        bridge_boxes_[e] = box;
      }
    } catch (std::exception &err) {
      failure = fmt::format("{}: {}", partition_name(universe->iworld, role_), err.what());
    }
  }
  fail_together(failure);
}

// The pair energy the partition's dynamics sees must be the Hamiltonian of its state in the
// fix: the acceptance rule is only exact for the Hamiltonian the partition samples.
void FixFlowMapExchange::check_own_energy()
{
  // Energies are tallied on the setup step (thermo's pe); otherwise there is nothing to
  // compare with.
  double simulated = 0.0;
  if (!simulated_pair_energy(lmp, simulated)) return;
  const auto &frame = frame_->gather();
  std::string failure;
  if (comm->me == 0) {
    try {
      double own = 0.0;
      const auto &box = role_ == SOURCE ? states_.source_box : states_.target_box;
      bridges_[role_]->evaluate(frame.data(), 1, box.data(), &own, nullptr, false);
      if (!same_pair_energy(simulated, own))
        failure = fmt::format("{} simulates a pair energy of {:.10g}, but the {} Hamiltonian of "
                              "the fix (keyword {}) gives {:.10g} for the same atoms: each "
                              "partition must simulate the pair style of the state it samples",
                              partition_name(universe->iworld, role_), simulated,
                              kRoleNames[role_], kRoleNames[role_], own);
    } catch (std::exception &err) {
      failure = fmt::format("{}: {}", partition_name(universe->iworld, role_), err.what());
    }
  }
  fail_together(failure);
}

// Any process's failure becomes an error on every process of both partitions, with the
// message of the first process (in the universe) that failed.
void FixFlowMapExchange::fail_together(const std::string &failure)
{
  const std::string message = flowmap::first_failure(failure, universe->uworld);
  if (!message.empty()) error->all(FLERR, "Fix flowmap/exchange: {}", message);
}

/* ----------------------------------------------------------------------
   an exchange attempt, on all ranks of both partitions
------------------------------------------------------------------------- */

void FixFlowMapExchange::pre_exchange()
{
  if (next_reneighbor != update->ntimestep) return;
  next_reneighbor = update->ntimestep + nevery;
  attempt();
}

// This partition's half of an attempt, on its root: {log-weight of the flow, log-weight of the
// identity / scaling, energy in its own Hamiltonian, mapped positions (N * d)}.
void FixFlowMapExchange::evaluate_side(const std::vector<double> &frame,
                                       std::vector<double> &side)
{
  const bool source = role_ == SOURCE;
  const auto n = states_.num_particles, d = states_.dimension;
  const auto &box = source ? states_.source_box : states_.target_box;
  auto &other = *bridges_[source ? TARGET : SOURCE];
  std::vector<double> own(1);
  bridges_[role_]->evaluate(frame.data(), 1, box.data(), own.data(), nullptr, false);
  const auto x =
      torch::from_blob(const_cast<double *>(frame.data()), {1, n, d}, torch::kFloat64).clone();
  const auto direction = source ? flowmap::Direction::forward : flowmap::Direction::inverse;
  const auto mapped = flowmap::map_and_weigh(model_.get(), direction, states_, x, own, other);
  side[0] = mapped.log_weight[0];
  side[1] = model_ ? flowmap::map_and_weigh(nullptr, direction, states_, x, own, other)
                         .log_weight[0]
                   : side[0];
  side[2] = own[0];
  std::copy_n(mapped.positions.contiguous().data_ptr<double>(), n * d, side.begin() + 3);
}

void FixFlowMapExchange::attempt()
{
  const auto start = std::chrono::steady_clock::now();
  const bigint step = update->ntimestep;
  const auto &frame = frame_->gather();
  const int count = 3 + static_cast<int>(states_.num_particles * states_.dimension);
  std::vector<double> mine(count, 0.0), theirs(count, 0.0);
  std::string failure;
  if (comm->me == 0) {
    try {
      evaluate_side(frame, mine);
    } catch (std::exception &err) {
      failure = fmt::format("{} could not evaluate its side of the exchange at step {}: {}",
                            partition_name(universe->iworld, role_), step, err.what());
    }
  }
  fail_together(failure);

  // The source partition decides with its stream and tells the target; every source rank
  // draws, so that all ranks of a partition keep identical streams.
  const double uniform = role_ == SOURCE ? random_->uniform() : 0.0;
  // lw_fwd, lw_inv, log alpha, log alpha of the identity, accepted, energy A, energy B
  double summary[7] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  if (comm->me == 0) {
    MPI_Sendrecv(mine.data(), count, MPI_DOUBLE, other_root_, kTagSide, theirs.data(), count,
                 MPI_DOUBLE, other_root_, kTagSide, universe->uworld, MPI_STATUS_IGNORE);
    const auto &fwd = role_ == SOURCE ? mine : theirs;
    const auto &inv = role_ == SOURCE ? theirs : mine;
    const double log_alpha = flowmap::exchange_log_acceptance(fwd[0], inv[0]);
    int accepted = 0;
    if (role_ == SOURCE) {
      accepted = flowmap::exchange_accepted(log_alpha, uniform) ? 1 : 0;
      MPI_Send(&accepted, 1, MPI_INT, other_root_, kTagDecision, universe->uworld);
    } else {
      MPI_Recv(&accepted, 1, MPI_INT, other_root_, kTagDecision, universe->uworld,
               MPI_STATUS_IGNORE);
    }
    const double values[7] = {fwd[0], inv[0], log_alpha,
                              flowmap::exchange_log_acceptance(fwd[1], inv[1]),
                              static_cast<double>(accepted), fwd[2], inv[2]};
    std::copy_n(values, 7, summary);
  }
  MPI_Bcast(summary, 7, MPI_DOUBLE, 0, world);
  log_weight_[0] = summary[0];
  log_weight_[1] = summary[1];
  log_alpha_ = summary[2];
  log_alpha_identity_ = summary[3];
  swapped_ = summary[4] != 0.0;
  // A NaN log-weight is counted as such; -inf (an overlap) is an ordinary rejection.
  const bool nan = std::isnan(summary[0] + summary[1]);
  statistics_->record(nan ? std::nan("") : log_alpha_, swapped_, log_alpha_identity_);

  if (fp_) {
    fmt::print(fp_, "{} {:.17g} {:.17g} {:.17g} {} {:.17g} {:.17g} {:.17g}\n", step, summary[0],
               summary[1], summary[2], swapped_ ? 1 : 0, summary[3], summary[5], summary[6]);
    fflush(fp_);
  }

  if (swapped_) {
    MPI_Bcast(theirs.data() + 3, count - 3, MPI_DOUBLE, 0, world);
    place(theirs.data() + 3);
    if (redraw_) redraw_velocities();
  }
  seconds_ += seconds_since(start);
}

// The other partition's mapped configuration replaces this one's, row by row onto the atoms
// this attempt's frame was gathered from: by atom ID, or, after swap moves (fix atom/swap)
// have exchanged types between atoms, onto the atom each row of the relabelled frame held, so
// that every position lands on an atom of the species it was mapped as. Both partitions keep
// their own assignment of types to atoms, so the move is still its own inverse. Image flags
// start again from 0: the new configuration has no history in this box.
void FixFlowMapExchange::place(const double *positions)
{
  const int d = frame_->dimension();
  const auto &held = frame_->relabelling();    // atom index of each row; empty: row = atom
  std::vector<std::int64_t> row_of(held.size());
  for (std::size_t row = 0; row < held.size(); ++row) row_of[held[row]] = row;
  double **x = atom->x;
  imageint *image = atom->image;
  const imageint zero = ((imageint) IMGMAX << IMG2BITS) | ((imageint) IMGMAX << IMGBITS) | IMGMAX;
  for (int i = 0; i < atom->nlocal; ++i) {
    const std::int64_t atom_index = atom->tag[i] - 1;
    const std::int64_t row = row_of.empty() ? atom_index : row_of[atom_index];
    const double *y = positions + static_cast<std::size_t>(row) * d;
    for (int k = 0; k < d; ++k) x[i][k] = y[k];
    image[i] = zero;
    domain->remap(x[i], image[i]);
    image[i] = zero;
  }
  // An atom may now lie in any rank's sub-domain, further than Comm::exchange() reaches.
  if (comm->nprocs > 1) irregular_->migrate_atoms();
}

// Maxwell-Boltzmann velocities at this partition's temperature, drawn for every atom ID on
// every rank (the same numbers whatever the decomposition), each rank keeping its own atoms',
// with the total momentum removed. Zero momentum is what a momentum-conserving thermostat
// samples (fix nvt counts d N - d degrees of freedom): a drifting centre of mass would hold
// kinetic energy that the thermostat takes from the internal motion, and the partition would
// sample a lower temperature (measured: <U> about 0.02 k_B T per atom low in both partitions
// of a Nose-Hoover exchange at N = 43). Configurations do not depend on the centre-of-mass
// velocity, so under a thermostat that does not conserve momentum (Langevin) they sample the
// same distribution either way.
void FixFlowMapExchange::redraw_velocities()
{
  const int n = frame_->natoms(), d = frame_->dimension();
  std::vector<double> gauss(static_cast<std::size_t>(n) * d);
  for (auto &g : gauss) g = random_->normal();
  const double kt = force->boltz * temperature_[role_];
  double **v = atom->v;
  double momentum_and_mass[4] = {0.0, 0.0, 0.0, 0.0};
  for (int i = 0; i < atom->nlocal; ++i) {
    const double mass = atom->rmass ? atom->rmass[i] : atom->mass[atom->type[i]];
    const double scale = std::sqrt(kt / (mass * force->mvv2e));
    const double *g = &gauss[static_cast<std::size_t>(atom->tag[i] - 1) * d];
    for (int k = 0; k < 3; ++k) {
      v[i][k] = k < d ? scale * g[k] : 0.0;
      momentum_and_mass[k] += mass * v[i][k];
    }
    momentum_and_mass[3] += mass;
  }
  double total[4];
  MPI_Allreduce(momentum_and_mass, total, 4, MPI_DOUBLE, MPI_SUM, world);
  for (int i = 0; i < atom->nlocal; ++i)
    for (int k = 0; k < d; ++k) v[i][k] -= total[k] / total[3];
}

/* ---------------------------------------------------------------------- */

double FixFlowMapExchange::compute_vector(int i)
{
  const auto &s = *statistics_;
  switch (i) {
    case ATTEMPTS: return s.attempts();
    case ACCEPTED: return s.accepted();
    case RATE: return s.acceptance_rate();
    case RECENT_RATE: return s.recent_acceptance_rate();
    case LOG_ALPHA: return log_alpha_;
    case SWAPPED: return swapped_ ? 1.0 : 0.0;
    case MEAN_PROBABILITY: return s.mean_probability();
    case MEAN_PROBABILITY_IDENTITY: return s.mean_probability_baseline();
    case LOG_ALPHA_IDENTITY: return log_alpha_identity_;
    case NONFINITE: return s.nonfinite();
    case SECONDS: return seconds_;
    case LOG_WEIGHT_FORWARD: return log_weight_[0];
    case LOG_WEIGHT_INVERSE: return log_weight_[1];
    default: return 0.0;
  }
}

/* ----------------------------------------------------------------------
   restart: counters, the last attempt and the random stream of this partition
------------------------------------------------------------------------- */

void FixFlowMapExchange::write_restart(FILE *fp)
{
  if (comm->me != 0) return;
  std::vector<double> numbers = {kRestartVersion,
                                 static_cast<double>(role_),
                                 log_weight_[0],
                                 log_weight_[1],
                                 log_alpha_,
                                 log_alpha_identity_,
                                 swapped_ ? 1.0 : 0.0,
                                 seconds_};
  const auto statistics = statistics_->state();
  numbers.insert(numbers.end(), statistics.begin(), statistics.end());
  const std::string stream = random_->state();
  const std::uint64_t count = numbers.size(), length = stream.size();
  const int size = static_cast<int>(2 * sizeof(std::uint64_t) + count * sizeof(double) + length);
  fwrite(&size, sizeof(int), 1, fp);
  fwrite(&count, sizeof(count), 1, fp);
  fwrite(numbers.data(), sizeof(double), count, fp);
  fwrite(&length, sizeof(length), 1, fp);
  fwrite(stream.data(), 1, length, fp);
}

void FixFlowMapExchange::restart(char *buf)
{
  constexpr std::size_t kHeader = 8;
  std::uint64_t count = 0, length = 0;
  memcpy(&count, buf, sizeof(count));
  buf += sizeof(count);
  std::vector<double> numbers(count);
  memcpy(numbers.data(), buf, count * sizeof(double));
  buf += count * sizeof(double);
  memcpy(&length, buf, sizeof(length));
  buf += sizeof(length);
  const std::string stream(buf, length);

  if (count < kHeader || numbers[0] != kRestartVersion)
    error->all(FLERR, "Fix flowmap/exchange: the restart file holds the state of another "
               "version of this fix");
  // Raised at setup, together with the other partition (see prepare()).
  const int role = static_cast<int>(numbers[1]);
  if (role != role_) {
    pending_failure_ = fmt::format("the restart file holds the state of the {} partition, "
                                   "this partition samples the {} state", kRoleNames[role],
                                   kRoleNames[role_]);
    return;
  }
  try {
    statistics_->restore(std::vector<double>(numbers.begin() + kHeader, numbers.end()));
    random_->restore(stream);
  } catch (std::exception &err) {
    error->all(FLERR, "Fix flowmap/exchange: the restart file's exchange state is damaged: {}",
               err.what());
  }
  log_weight_[0] = numbers[2];
  log_weight_[1] = numbers[3];
  log_alpha_ = numbers[4];
  log_alpha_identity_ = numbers[5];
  swapped_ = numbers[6] != 0.0;
  seconds_ = numbers[7];
}
