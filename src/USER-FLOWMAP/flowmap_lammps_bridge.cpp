/* ----------------------------------------------------------------------
   USER-FLOWMAP: the energy bridge (see flowmap_lammps_bridge.h).

   The per-configuration work mirrors Verlet::setup_minimal() of LAMMPS: wrap positions into
   the box, exchange/borders for the periodic ghosts, build the neighbor lists, clear forces,
   call the pair style, fold ghost forces back. The box-dependent part of that setup
   (communication cutoffs, bins) is redone only when the box changes.
------------------------------------------------------------------------- */

#include "flowmap_lammps_bridge.h"

#include "atom.h"
#include "comm.h"
#include "compute.h"
#include "domain.h"
#include "exceptions.h"
#include "force.h"
#include "input.h"
#include "lammps.h"
#include "library.h"
#include "modify.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "pair.h"
#include "pair_hybrid.h"
#include "update.h"
#include "flowmap_lammps_compat.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>

using namespace LAMMPS_NS;

namespace {

constexpr const char *kNeighborStyle = "flowmap/bridge/neighbors";
constexpr const char *kNeighborId = "flowmap_bridge_neighbors";

// Gives the regularised evaluation a half neighbor list covering every pair style, including
// all sub-styles of a hybrid (whose own lists are private to PairHybrid). Perpetual, so it is
// rebuilt by every neighbor->build(): occasional lists are skipped when rebuilt on the same
// timestep, and the helper never advances its timestep. Registered in helper instances only.
class BridgeNeighborList : public Compute {
 public:
  BridgeNeighborList(LAMMPS *lmp, int narg, char **arg) : Compute(lmp, narg, arg) {}

  void init() override { flowmap_compat::request_half_list(neighbor, this, instance_me); }

  void init_list(int, NeighList *ptr) override { list = ptr; }

  NeighList *list = nullptr;
};

Compute *create_bridge_neighbor_list(LAMMPS *lmp, int narg, char **arg)
{
  return new BridgeNeighborList(lmp, narg, arg);
}

std::string number(double v)
{
  char buf[32];
  snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

bool starts_with_word(const std::string &line, const char *word)
{
  const std::size_t n = std::strlen(word);
  return line.compare(0, n, word) == 0 && (line.size() == n || std::isspace(line[n]));
}

// x wrapped into [0, L). fmod is exact, so even a coordinate of 1e300 lands in the box (x - L
// floor(x / L) loses every digit there, and an atom left outside the helper's box is lost by
// its exchange); w + L can round up to L for tiny negative w.
double wrap(double x, double length)
{
  double w = std::fmod(x, length);
  if (w < 0.0) w += length;
  if (w >= length || w < 0.0) w = 0.0;
  return w;
}

// PairHybrid keeps which sub-styles serve a pair of types protected. A derived class may form
// pointers to those members and apply them to any PairHybrid, which reads them without
// constructing one (never instantiated).
class HybridSubStyles : public PairHybrid {
 public:
  HybridSubStyles() = delete;
  static std::vector<Pair *> of(PairHybrid *hybrid, int itype, int jtype)
  {
    Pair **styles = hybrid->*(&HybridSubStyles::styles);
    int **nmap = hybrid->*(&HybridSubStyles::nmap);
    int ***map = hybrid->*(&HybridSubStyles::map);
    std::vector<Pair *> serving;
    for (int m = 0; m < nmap[itype][jtype]; ++m) serving.push_back(styles[map[itype][jtype][m]]);
    return serving;
  }
};

// sigma of types i <= j as the pair style reports it after init(), 0 where it reports none.
// A hybrid's own extract() returns its first sub-style's table, right only for the pairs that
// sub-style serves, so each pair asks the sub-styles serving it; where several report one
// (overlaid Lennard-Jones terms), the smallest, whose core is the innermost.
double reported_sigma(Pair *pair, int i, int j)
{
  auto *hybrid = dynamic_cast<PairHybrid *>(pair);
  const std::vector<Pair *> serving =
      hybrid ? HybridSubStyles::of(hybrid, i, j) : std::vector<Pair *>{pair};
  double smallest = 0.0;
  for (Pair *style : serving) {
    int dim = 0;
    auto **sigma = static_cast<double **>(style->extract("sigma", dim));
    if (!sigma || dim != 2 || !(sigma[i][j] > 0.0)) continue;
    if (smallest == 0.0 || sigma[i][j] < smallest) smallest = sigma[i][j];
  }
  return smallest;
}

}    // namespace

/* ---------------------------------------------------------------------- */

class FlowMapBridge::Helper {
 public:
  explicit Helper(const FlowMapBridgeSetup &setup);
  Helper(const Helper &) = delete;
  Helper &operator=(const Helper &) = delete;

  void set_box(const double *lengths);
  bool box_is(const double *lengths) const;
  // Energy of one configuration (N*d, particle-major); forces (N*d) when not null.
  double compute(const double *positions, double *forces, bool regularised);
  // See FlowMapBridge::inherent_structure; returns nothing, the caller evaluates the minimum.
  void minimize(const double *positions, double *minimum, double force_tolerance);
  bool direct() const { return direct_; }
  double core_radius(int itype, int jtype) const { return core_[itype * (ntypes_ + 1) + jtype]; }
  bool interacting(int itype, int jtype) const;

 private:
  // Owned: destroyed with the helper, and also when the constructor throws after creating it
  // (a failing pair command).
  std::unique_ptr<LAMMPS> lmp_;
  int natoms_;
  int dim_;
  int ntypes_;
  // Core radius of each pair of types, [(ntypes + 1)^2] indexed by type (row and column 0
  // unused), symmetric; regularise_: any of them > 0.
  std::vector<double> core_;
  bool regularise_ = false;
  std::vector<int> types_;
  std::vector<double> box_;
  BridgeNeighborList *core_list_ = nullptr;
  bool direct_capable_ = false;    // pairwise with single(), few enough atoms, allowed
  bool direct_ = false;            // ... and the cutoff below half the box
  bool minimizer_ready_ = false;   // the fix a 2D minimisation needs exists

  void command(const std::string &line, const std::string &context);
  double pair_term(int i, int j, int itype, int jtype, double rsq, bool core, double &fpair);
  double pair_sum_regularised();
  double pair_sum_neighbors(const double *positions, double *forces, bool regularised);
  double pair_sum_direct(const double *positions, double *forces, bool regularised);
};

FlowMapBridge::Helper::Helper(const FlowMapBridgeSetup &setup) :
    natoms_(static_cast<int>(setup.types.size())), dim_(setup.dimension), ntypes_(setup.ntypes),
    core_((setup.ntypes + 1) * (setup.ntypes + 1), 0.0), types_(setup.types)
{
  const char *args[] = {"flowmap_bridge", "-log", "none", "-screen", "none", "-echo", "none",
                        "-nocite"};
  const int nargs = sizeof(args) / sizeof(args[0]);
  try {
    lmp_ = std::make_unique<LAMMPS>(nargs, const_cast<char **>(args), MPI_COMM_SELF);
  } catch (LAMMPSException &e) {
    throw FlowMapBridgeError("cannot create the helper LAMMPS instance: " + flowmap_compat::message_of(e));
  }

  const std::string setup_context = "energy bridge set-up";
  command("units " + setup.units, setup_context);
  command("dimension " + std::to_string(dim_), setup_context);
  command("boundary p p p", setup_context);
  command("atom_style atomic", setup_context);
  command("atom_modify map array sort 0 0.0", setup_context);
  std::string region = "region flowmap_box block";
  for (int k = 0; k < 3; ++k) {
    if (k < dim_)
      region += " 0 " + number(setup.box_lengths[k]);
    else
      region += " -0.5 0.5";
  }
  command(region, setup_context);
  command("create_box " + std::to_string(setup.ntypes) + " flowmap_box", setup_context);
  command("mass * 1.0", setup_context);

  // Placeholder positions on a grid inside the box: create_atoms keeps only atoms inside it;
  // every evaluation overwrites them.
  std::vector<tagint> ids(natoms_);
  std::vector<double> x(3 * static_cast<std::size_t>(natoms_), 0.0);
  const int per_side = static_cast<int>(std::ceil(std::pow(std::max(natoms_, 1), 1.0 / dim_)));
  for (int i = 0; i < natoms_; ++i) {
    ids[i] = i + 1;
    int rest = i;
    for (int k = 0; k < dim_; ++k) {
      x[3 * i + k] = (rest % per_side + 0.5) * setup.box_lengths[k] / per_side;
      rest /= per_side;
    }
  }
  lammps_create_atoms(lmp_.get(), natoms_, ids.data(), setup.types.data(), x.data(), nullptr,
                      nullptr, 0);
  if (lmp_->atom->natoms != natoms_)
    throw FlowMapBridgeError("energy bridge set-up: the helper created " +
                             std::to_string(lmp_->atom->natoms) + " of " +
                             std::to_string(natoms_) + " atoms");

  for (const auto &line : setup.pair_commands) command(line, "pair command '" + line + "'");

  // No skin: lists are rebuilt for every configuration, so a skin would only add pairs.
  command("neighbor 0.0 bin", setup_context);
  command("neigh_modify delay 0 every 1 check no", setup_context);

  const bool core_requested = setup.core_radius > 0.0 || setup.core_sigma > 0.0;
  if (core_requested) {
    (*lmp_->modify->compute_map)[kNeighborStyle] = &create_bridge_neighbor_list;
    command(std::string("compute ") + kNeighborId + " all " + kNeighborStyle, setup_context);
    core_list_ = static_cast<BridgeNeighborList *>(
        flowmap_compat::find_compute(lmp_->modify, kNeighborId));
  }

  std::string all_pair_commands;
  for (const auto &line : setup.pair_commands)
    all_pair_commands += (all_pair_commands.empty() ? "'" : ", '") + line + "'";
  try {
    lmp_->init();
  } catch (LAMMPSException &e) {
    throw FlowMapBridgeError("pair commands " + all_pair_commands +
                             " are incomplete or inconsistent: " + flowmap_compat::message_of(e));
  }
  Pair *pair = lmp_->force->pair;
  if (!pair)
    throw FlowMapBridgeError("pair commands " + all_pair_commands + " define no pair style");

  // single() of a many-body style (eam, for one) is not its share of the energy, so only
  // pairwise styles are summed pair by pair.
  const bool pairwise = pair->single_enable && !pair->manybody_flag;
  if (core_requested) {
    // After init(): mixed sigmas exist, in the upper triangle (init_one(i, j) with i <= j).
    // A hybrid with a sub-style lacking single() takes sigma from none of them: its pairs are
    // then regularised only by an explicit core_radius, which is refused below, rather than
    // refused for the default.
    const bool from_sigma = setup.core_sigma > 0.0 &&
                            (pairwise || dynamic_cast<PairHybrid *>(pair) == nullptr);
    for (int i = 1; i <= ntypes_; ++i)
      for (int j = i; j <= ntypes_; ++j) {
        const double sigma = from_sigma && interacting(i, j) ? reported_sigma(pair, i, j) : 0.0;
        const double rc = sigma > 0.0 ? setup.core_sigma * sigma : setup.core_radius;
        core_[i * (ntypes_ + 1) + j] = core_[j * (ntypes_ + 1) + i] = rc;
        if (interacting(i, j) && rc > 0.0) regularise_ = true;
        if (interacting(i, j) && rc * rc >= pair->cutsq[i][j])
          throw FlowMapBridgeError(
              "energy bridge: core_radius " + number(rc) +
              (sigma > 0.0 ? " (" + number(setup.core_sigma) + " sigma)" : std::string()) +
              " is not below the pair cutoff " + number(std::sqrt(pair->cutsq[i][j])) +
              " of types " + std::to_string(i) + " " + std::to_string(j));
      }
    // Checked only now: a many-body style that reports no sigma (eam in metal units) gets no
    // radius without keyword core, and then needs no single().
    if (regularise_ && !pairwise)
      throw FlowMapBridgeError(std::string("energy bridge: pair style ") +
                               lmp_->force->pair_style +
                               (pair->manybody_flag ? " is many-body" : " has no single()") +
                               " (for hybrid: one of its sub-styles); the regularisation "
                               "(core_radius > 0) needs a pairwise style with single()");
  }

  direct_capable_ = setup.direct_sum && pairwise && natoms_ <= kDirectSumMaxAtoms;
  box_.assign(3, 1.0);
  set_box(setup.box_lengths.data());
}

void FlowMapBridge::Helper::command(const std::string &line, const std::string &context)
{
  try {
    lmp_->input->one(line);
  } catch (LAMMPSException &e) {
    throw FlowMapBridgeError(context + " failed ('" + line + "'): " + flowmap_compat::message_of(e));
  }
}

bool FlowMapBridge::Helper::interacting(int itype, int jtype) const
{
  return lmp_->force->pair->cutsq[itype][jtype] > 0.0;
}

bool FlowMapBridge::Helper::box_is(const double *lengths) const
{
  for (int k = 0; k < dim_; ++k)
    if (lengths[k] != box_[k]) return false;
  return true;
}

void FlowMapBridge::Helper::set_box(const double *lengths)
{
  for (int k = 0; k < dim_; ++k)
    if (!(lengths[k] > 0.0) || !std::isfinite(lengths[k]))
      throw FlowMapBridgeError("energy bridge: box length " + number(lengths[k]) +
                               " along axis " + std::to_string(k) + " is not positive");
  Domain *domain = lmp_->domain;
  for (int k = 0; k < dim_; ++k) {
    box_[k] = lengths[k];
    domain->boxlo[k] = 0.0;
    domain->boxhi[k] = lengths[k];
  }
  try {
    domain->set_initial_box();
    domain->set_global_box();
    domain->set_local_box();
    lmp_->comm->setup();
    lmp_->neighbor->setup_bins();
  } catch (LAMMPSException &e) {
    throw FlowMapBridgeError("energy bridge: cannot resize the box: " + flowmap_compat::message_of(e));
  }
  const double shortest = *std::min_element(box_.begin(), box_.begin() + dim_);
  direct_ = direct_capable_ && lmp_->force->pair->cutforce < 0.5 * shortest;
}

double FlowMapBridge::Helper::compute(const double *positions, double *forces, bool regularised)
{
  const std::size_t nvalues = static_cast<std::size_t>(natoms_) * dim_;
  for (std::size_t v = 0; v < nvalues; ++v) {
    if (!std::isfinite(positions[v])) {
      if (forces)
        std::fill(forces, forces + nvalues, std::numeric_limits<double>::quiet_NaN());
      return std::numeric_limits<double>::quiet_NaN();
    }
  }
  double energy = direct_ ? pair_sum_direct(positions, forces, regularised)
                          : pair_sum_neighbors(positions, forces, regularised);
  Pair *pair = lmp_->force->pair;
  if (pair->tail_flag) {
    const Domain *domain = lmp_->domain;
    energy += pair->etail / (domain->xprd * domain->yprd * domain->zprd);
  }
  return energy;
}

void FlowMapBridge::Helper::minimize(const double *positions, double *minimum,
                                     double force_tolerance)
{
  const std::string context = "energy bridge minimisation";
  if (!minimizer_ready_) {
    // Forces of a 2D pair style have no z part, but LAMMPS's line search moves along the whole
    // force vector, and enforce2d is what 2D runs everywhere else in LAMMPS use.
    if (dim_ == 2) command("fix flowmap_bridge_plane all enforce2d", context);
    minimizer_ready_ = true;
  }
  Atom *atom = lmp_->atom;
  std::vector<double> start(static_cast<std::size_t>(natoms_) * dim_);
  for (int t = 0; t < natoms_; ++t) {
    const int i = atom->map(t + 1);
    for (int k = 0; k < dim_; ++k) {
      start[t * dim_ + k] = wrap(positions[t * dim_ + k], box_[k]);
      atom->x[i][k] = start[t * dim_ + k];
    }
    if (dim_ == 2) atom->x[i][2] = 0.0;
    atom->image[i] = ((imageint) IMGMAX << IMG2BITS) | ((imageint) IMGMAX << IMGBITS) | IMGMAX;
  }
  command("minimize 0.0 " + number(force_tolerance) + " 100000 1000000", context);
  for (int t = 0; t < natoms_; ++t) {
    const int i = atom->map(t + 1);
    double unwrapped[3];
    lmp_->domain->unmap(atom->x[i], atom->image[i], unwrapped);
    // the path from the wrapped start, added to the caller's own (possibly unwrapped) start
    for (int k = 0; k < dim_; ++k)
      minimum[t * dim_ + k] = positions[t * dim_ + k] + (unwrapped[k] - start[t * dim_ + k]);
  }
}

// The LAMMPS way: positions into the helper, ghosts and neighbor lists rebuilt, the pair
// style's compute() (or the regularised sum over the bridge's list), ghost forces folded back.
double FlowMapBridge::Helper::pair_sum_neighbors(const double *positions, double *forces,
                                                 bool regularised)
{
  Atom *atom = lmp_->atom;
  Force *force = lmp_->force;
  double energy = 0.0;
  try {
    double **x = atom->x;
    for (int t = 0; t < natoms_; ++t) {
      const int i = atom->map(t + 1);
      for (int k = 0; k < dim_; ++k) x[i][k] = wrap(positions[t * dim_ + k], box_[k]);
      if (dim_ == 2) x[i][2] = 0.0;
    }
    lmp_->domain->pbc();
    lmp_->comm->exchange();
    lmp_->comm->borders();
    // Every atom is inside the box, so none can be lost; should a pair style's cutoff or a
    // later LAMMPS release prove otherwise, the lookup below must not read x[-1].
    if (atom->nlocal != natoms_ || atom->map(natoms_) < 0)
      throw FlowMapBridgeError("energy bridge: " + std::to_string(natoms_ - atom->nlocal) +
                               " atoms were lost placing the configuration in the box");
    lmp_->neighbor->build(1);

    const std::size_t nall = static_cast<std::size_t>(atom->nlocal) + atom->nghost;
    std::memset(&atom->f[0][0], 0, 3 * nall * sizeof(double));
    if (regularised && regularise_) {
      energy = pair_sum_regularised();
    } else {
      force->pair->compute(1, 0);
      energy = force->pair->eng_vdwl + force->pair->eng_coul;
    }
    if (force->newton) lmp_->comm->reverse_comm();
  } catch (LAMMPSException &e) {
    throw FlowMapBridgeError("energy bridge: evaluation failed: " + flowmap_compat::message_of(e));
  }
  if (forces) {
    double **f = atom->f;
    for (int t = 0; t < natoms_; ++t) {
      const int i = atom->map(t + 1);
      for (int k = 0; k < dim_; ++k) forces[t * dim_ + k] = f[i][k];
    }
  }
  return energy;
}

// One pair's energy and fpair (-du/dr / r, as Pair::single()), with the linear core of the
// header inside core_radius when core is set.
double FlowMapBridge::Helper::pair_term(int i, int j, int itype, int jtype, double rsq, bool core,
                                        double &fpair)
{
  Pair *pair = lmp_->force->pair;
  const double rc = core_radius(itype, jtype);
  if (!core || rsq >= rc * rc) return pair->single(i, j, itype, jtype, rsq, 1.0, 1.0, fpair);
  double fpair_rc;
  const double energy_rc = pair->single(i, j, itype, jtype, rc * rc, 1.0, 1.0, fpair_rc);
  const double slope = -fpair_rc * rc;    // du/dr at r_c; single() gives -du/dr / r
  const double r = std::sqrt(rsq);
  fpair = r > 0.0 ? -slope / r : 0.0;
  return energy_rc + slope * (r - rc);
}

// Pair energy (and forces into atom->f, ghosts included) with the linear core, over the
// bridge's neighbor list.
double FlowMapBridge::Helper::pair_sum_regularised()
{
  double **x = lmp_->atom->x;
  double **f = lmp_->atom->f;
  const int *type = lmp_->atom->type;
  double **cutsq = lmp_->force->pair->cutsq;
  const NeighList *list = core_list_->list;

  double energy = 0.0;
  for (int ii = 0; ii < list->inum; ++ii) {
    const int i = list->ilist[ii];
    const int itype = type[i];
    const int *jlist = list->firstneigh[i];
    for (int jj = 0; jj < list->numneigh[i]; ++jj) {
      const int j = jlist[jj] & NEIGHMASK;
      const int jtype = type[j];
      const double del[3] = {x[i][0] - x[j][0], x[i][1] - x[j][1], x[i][2] - x[j][2]};
      const double rsq = del[0] * del[0] + del[1] * del[1] + del[2] * del[2];
      if (rsq >= cutsq[itype][jtype]) continue;
      double fpair;
      energy += pair_term(i, j, itype, jtype, rsq, true, fpair);
      for (int k = 0; k < 3; ++k) {
        f[i][k] += del[k] * fpair;
        f[j][k] -= del[k] * fpair;
      }
    }
  }
  return energy;
}

// All minimum-image pairs, straight from the caller's positions: no ghosts, no neighbor list.
double FlowMapBridge::Helper::pair_sum_direct(const double *positions, double *forces,
                                              bool regularised)
{
  double **cutsq = lmp_->force->pair->cutsq;
  const bool core = regularised && regularise_;
  const int d = dim_;
  if (forces) std::fill(forces, forces + static_cast<std::size_t>(natoms_) * d, 0.0);
  double energy = 0.0;
  for (int i = 0; i < natoms_; ++i) {
    const double *xi = positions + static_cast<std::size_t>(i) * d;
    const int itype = types_[i];
    // single() takes local atom indices, which styles with per-atom data (charges) use.
    const int li = lmp_->atom->map(i + 1);
    for (int j = i + 1; j < natoms_; ++j) {
      const double *xj = positions + static_cast<std::size_t>(j) * d;
      double del[3] = {0.0, 0.0, 0.0}, rsq = 0.0;
      for (int k = 0; k < d; ++k) {
        del[k] = xi[k] - xj[k];
        del[k] -= box_[k] * std::nearbyint(del[k] / box_[k]);
        rsq += del[k] * del[k];
      }
      const int jtype = types_[j];
      if (rsq >= cutsq[itype][jtype]) continue;
      double fpair;
      energy += pair_term(li, lmp_->atom->map(j + 1), itype, jtype, rsq, core, fpair);
      if (forces)
        for (int k = 0; k < d; ++k) {
          forces[i * d + k] += del[k] * fpair;
          forces[j * d + k] -= del[k] * fpair;
        }
    }
  }
  return energy;
}

/* ---------------------------------------------------------------------- */

FlowMapBridge::FlowMapBridge(const FlowMapBridgeSetup &setup) : setup_(setup)
{
  if (setup_.dimension != 2 && setup_.dimension != 3)
    throw FlowMapBridgeError("energy bridge: dimension must be 2 or 3, got " +
                             std::to_string(setup_.dimension));
  if (setup_.ntypes < 1)
    throw FlowMapBridgeError("energy bridge: ntypes must be at least 1");
  for (std::size_t i = 0; i < setup_.types.size(); ++i)
    if (setup_.types[i] < 1 || setup_.types[i] > setup_.ntypes)
      throw FlowMapBridgeError("energy bridge: particle " + std::to_string(i + 1) + " has type " +
                               std::to_string(setup_.types[i]) + ", expected 1.." +
                               std::to_string(setup_.ntypes));
  if (static_cast<int>(setup_.box_lengths.size()) != setup_.dimension)
    throw FlowMapBridgeError("energy bridge: " + std::to_string(setup_.box_lengths.size()) +
                             " box lengths given for dimension " +
                             std::to_string(setup_.dimension));
  if (setup_.pair_commands.empty())
    throw FlowMapBridgeError("energy bridge: no pair commands given");
  for (const auto &line : setup_.pair_commands)
    if (!starts_with_word(line, "pair_style") && !starts_with_word(line, "pair_coeff") &&
        !starts_with_word(line, "pair_modify"))
      throw FlowMapBridgeError("energy bridge: '" + line +
                               "' is not a pair_style, pair_coeff or pair_modify command");
  if (!(setup_.core_radius >= 0.0) || !std::isfinite(setup_.core_radius))
    throw FlowMapBridgeError("energy bridge: core_radius must be finite and >= 0, got " +
                             number(setup_.core_radius));
  if (!(setup_.core_sigma >= 0.0) || !std::isfinite(setup_.core_sigma))
    throw FlowMapBridgeError("energy bridge: core_sigma must be finite and >= 0, got " +
                             number(setup_.core_sigma));
  helper_ = std::make_unique<Helper>(setup_);
}

FlowMapBridge::~FlowMapBridge() = default;

std::int64_t FlowMapBridge::num_particles() const
{
  return static_cast<std::int64_t>(setup_.types.size());
}

bool FlowMapBridge::uses_direct_sum() const
{
  return helper_->direct();
}

double FlowMapBridge::core_radius(int itype, int jtype) const
{
  if (itype < 1 || jtype < 1 || itype > setup_.ntypes || jtype > setup_.ntypes)
    throw FlowMapBridgeError("energy bridge: types " + std::to_string(itype) + " " +
                             std::to_string(jtype) + " outside 1.." +
                             std::to_string(setup_.ntypes));
  return helper_->core_radius(itype, jtype);
}

bool FlowMapBridge::core_covers_all_pairs() const
{
  for (int i = 1; i <= setup_.ntypes; ++i)
    for (int j = i; j <= setup_.ntypes; ++j)
      if (helper_->interacting(i, j) && !(helper_->core_radius(i, j) > 0.0)) return false;
  return true;
}

std::string FlowMapBridge::core_radii_text() const
{
  std::string text;
  char buf[64];
  for (int i = 1; i <= setup_.ntypes; ++i)
    for (int j = i; j <= setup_.ntypes; ++j) {
      if (!helper_->interacting(i, j)) continue;
      snprintf(buf, sizeof(buf), "%s%d-%d %.6g", text.empty() ? "" : ", ", i, j,
               helper_->core_radius(i, j));
      text += buf;
    }
  return text;
}

std::int64_t FlowMapBridge::dimension() const
{
  return setup_.dimension;
}

double FlowMapBridge::inherent_structure(const double *positions, const double *box_lengths,
                                         double *minimum, double force_tolerance)
{
  if (!(force_tolerance > 0.0) || !std::isfinite(force_tolerance))
    throw FlowMapBridgeError("energy bridge: the minimiser's force tolerance must be > 0, got " +
                             number(force_tolerance));
  if (!helper_->box_is(box_lengths)) helper_->set_box(box_lengths);
  const std::size_t nvalues = static_cast<std::size_t>(num_particles()) * setup_.dimension;
  for (std::size_t v = 0; v < nvalues; ++v)
    if (!std::isfinite(positions[v])) {
      std::fill(minimum, minimum + nvalues, std::numeric_limits<double>::quiet_NaN());
      return std::numeric_limits<double>::quiet_NaN();
    }
  helper_->minimize(positions, minimum, force_tolerance);
  return helper_->compute(minimum, nullptr, false);
}

void FlowMapBridge::evaluate(const double *positions, std::int64_t nconf,
                             const double *box_lengths, double *energies, double *forces,
                             bool regularised)
{
  if (nconf > 0 && !helper_->box_is(box_lengths)) helper_->set_box(box_lengths);
  const std::int64_t stride = num_particles() * setup_.dimension;
  for (std::int64_t c = 0; c < nconf; ++c)
    energies[c] = helper_->compute(positions + c * stride, forces ? forces + c * stride : nullptr,
                                   regularised);
}
