/* ----------------------------------------------------------------------
   USER-FLOWMAP: compute ress (see compute_ress.h and doc/compute_ress.rst).
------------------------------------------------------------------------- */

#include "compute_ress.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "modify.h"
#include "update.h"

#include "fix_flowmap.h"
#include "flowmap_lammps_bridge.h"
#include "flowmap_lammps_compat.h"
#include "flowmap_species.h"
#include "flowmap_weights.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

using namespace LAMMPS_NS;

namespace {

constexpr int kDirectVectorSize = 8;
constexpr int kFixVectorSize = 13;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_pair_command(const char *arg)
{
  for (const char *word : {"pair_style", "pair_coeff", "pair_modify"}) {
    const std::size_t n = std::strlen(word);
    if (std::strncmp(arg, word, n) == 0 && (arg[n] == '\0' || std::isspace(arg[n]))) return true;
  }
  return false;
}

// The quoted pair commands that follow a keyword.
std::vector<std::string> pair_commands_at(int narg, char **arg)
{
  std::vector<std::string> commands;
  for (int i = 0; i < narg && is_pair_command(arg[i]); ++i) commands.emplace_back(arg[i]);
  return commands;
}

std::string joined(const std::vector<std::string> &lines)
{
  std::string s;
  for (const auto &line : lines) s += (s.empty() ? "\"" : " \"") + line + "\"";
  return s;
}

// n values from lo to hi inclusive.
std::vector<double> grid(double lo, double hi, int n)
{
  std::vector<double> values(n, lo);
  for (int i = 1; i < n; ++i) values[i] = lo + (hi - lo) * i / (n - 1);
  return values;
}

/* ----------------------------------------------------------------------
   Direct mode: the current frame mapped by the identity, or by the isotropic scaling
   x -> s x, s = (rho_source / rho_target)^(1/d), with log|det J| = N d log s.
------------------------------------------------------------------------- */

class DirectSource : public ComputeRESS::SampleSource {
 public:
  DirectSource(LAMMPS *lmp, const char *id, const char *t_source, const char *t_target);

  int parse_keyword(int narg, char **arg) override;
  void setup() override;
  void init() override;
  std::vector<RESSSample> samples() override;
  double memory_usage() const override;

 private:
  // Identity-baseline RESS over a grid of target (density, temperature) (doc/method.md section 7).
  struct Scan {
    std::vector<double> densities;
    std::vector<double> temperatures;
    std::string file;
    std::vector<flowmap::StreamingRess> ress;    // densities.size() x temperatures.size()
  };

  std::string id_;
  double t_source_, t_target_;
  double beta_source_ = 0.0, beta_target_ = 0.0;
  std::vector<std::string> target_commands_, source_commands_;
  double density_ = 0.0;    // 0: identity map
  std::unique_ptr<Scan> scan_;

  std::unique_ptr<FlowMapBridge> target_, source_;
  bigint natoms_ = -1;
  std::vector<int> types_;
  Compute *pe_ = nullptr;
  bigint frames_ = 0;

  void check_system();
  std::vector<int> gather(std::vector<double> *positions);
  void build_bridges(const std::vector<int> &types);
  std::vector<double> box_lengths() const;
  void write_scan(double source_density) const;
};

DirectSource::DirectSource(LAMMPS *lmp, const char *id, const char *t_source,
                           const char *t_target) :
    SampleSource(lmp), id_(id)
{
  t_source_ = utils::numeric(FLERR, t_source, false, lmp);
  t_target_ = utils::numeric(FLERR, t_target, false, lmp);
  if (!(t_source_ > 0.0))
    error->all(FLERR, "Illegal compute ress command: source temperature {} must be > 0",
               t_source);
  if (!(t_target_ > 0.0))
    error->all(FLERR, "Illegal compute ress command: target temperature {} must be > 0",
               t_target);
}

int DirectSource::parse_keyword(int narg, char **arg)
{
  const std::string keyword = arg[0];
  if (keyword == "target" || keyword == "source") {
    if (keyword == "source" && narg > 1 && strcmp(arg[1], "pe") == 0) {
      source_commands_.clear();
      return 2;
    }
    auto commands = pair_commands_at(narg - 1, arg + 1);
    if (commands.empty())
      error->all(FLERR,
                 "Illegal compute ress command: {} needs one or more quoted pair commands, "
                 "e.g. {} \"pair_style lj/cut 2.5\" \"pair_coeff * * 1.0 1.0\"{}; got {}",
                 keyword, keyword, keyword == "source" ? ", or source pe" : "",
                 narg > 1 ? std::string("'") + arg[1] + "'" : "nothing");
    const int used = 1 + static_cast<int>(commands.size());
    (keyword == "target" ? target_commands_ : source_commands_) = std::move(commands);
    return used;
  }
  if (keyword == "density") {
    if (narg < 2) error->all(FLERR, "Illegal compute ress command: density needs a value");
    density_ = utils::numeric(FLERR, arg[1], false, lmp);
    if (!(density_ > 0.0))
      error->all(FLERR, "Illegal compute ress command: target density {} must be > 0", arg[1]);
    return 2;
  }
  if (keyword == "scan") {
    if (narg < 8)
      error->all(FLERR, "Illegal compute ress command: scan needs 7 values: rho_lo rho_hi nrho "
                        "T_lo T_hi nT file");
    const double rho_lo = utils::numeric(FLERR, arg[1], false, lmp);
    const double rho_hi = utils::numeric(FLERR, arg[2], false, lmp);
    const int nrho = utils::inumeric(FLERR, arg[3], false, lmp);
    const double t_lo = utils::numeric(FLERR, arg[4], false, lmp);
    const double t_hi = utils::numeric(FLERR, arg[5], false, lmp);
    const int nt = utils::inumeric(FLERR, arg[6], false, lmp);
    if (!(rho_lo > 0.0) || rho_hi < rho_lo)
      error->all(FLERR, "Illegal compute ress command: scan densities {} {} must satisfy "
                        "0 < rho_lo <= rho_hi", arg[1], arg[2]);
    if (!(t_lo > 0.0) || t_hi < t_lo)
      error->all(FLERR, "Illegal compute ress command: scan temperatures {} {} must satisfy "
                        "0 < T_lo <= T_hi", arg[4], arg[5]);
    if (nrho < 1 || nt < 1)
      error->all(FLERR, "Illegal compute ress command: scan grid sizes {} {} must be >= 1",
                 arg[3], arg[6]);
    scan_ = std::make_unique<Scan>();
    scan_->densities = grid(rho_lo, rho_hi, nrho);
    scan_->temperatures = grid(t_lo, t_hi, nt);
    scan_->file = arg[7];
    scan_->ress.assign(static_cast<std::size_t>(nrho) * nt, flowmap::StreamingRess());
    return 8;
  }
  return 0;
}

void DirectSource::setup()
{
  if (target_commands_.empty())
    error->all(FLERR, "Compute ress: missing target keyword: give the target Hamiltonian as "
                      "target \"pair_style ...\" \"pair_coeff ...\"");
  beta_source_ = 1.0 / (force->boltz * t_source_);
  beta_target_ = 1.0 / (force->boltz * t_target_);
  check_system();
  build_bridges(gather(nullptr));

  if (comm->me == 0) {
    std::string map = density_ > 0.0 ? fmt::format("isotropic scaling to density {}", density_)
                                     : std::string("identity");
    utils::logmesg(lmp, "compute ress {}: direct mode, {} map, T_source {} -> T_target {}\n"
                        "  target: {}\n  source: {}\n", id_, map, t_source_, t_target_,
                   joined(target_commands_),
                   source_commands_.empty() ? std::string("pe (the simulation's own)")
                                            : joined(source_commands_));
    if (scan_)
      utils::logmesg(lmp, "  scan: {} densities in [{}, {}] x {} temperatures in [{}, {}] -> {}\n",
                     scan_->densities.size(), scan_->densities.front(), scan_->densities.back(),
                     scan_->temperatures.size(), scan_->temperatures.front(),
                     scan_->temperatures.back(), scan_->file);
  }
}

// The conditions every frame must meet; the box may change between runs (change_box).
void DirectSource::check_system()
{
  if (domain->triclinic)
    error->all(FLERR, "Compute ress: triclinic boxes are not supported; the energy bridge "
                      "needs an orthogonal box");
  if (!domain->xperiodic || !domain->yperiodic ||
      (domain->dimension == 3 && !domain->zperiodic))
    error->all(FLERR, "Compute ress: the box must be periodic in every direction "
                      "(boundary p p p); the weights are defined for periodic systems");
  if (!atom->tag_enable)
    error->all(FLERR, "Compute ress: atoms need IDs (atom_modify id yes) to be ordered");
  if (atom->natoms > MAXSMALLINT)
    error->all(FLERR, "Compute ress: too many atoms ({}) for one frame", atom->natoms);
  if (atom->natoms > 0 && !atom->tag_consecutive())
    error->all(FLERR, "Compute ress: atom IDs must be consecutive 1..N (use reset_atom_ids)");
}

std::vector<double> DirectSource::box_lengths() const
{
  return std::vector<double>(domain->prd, domain->prd + domain->dimension);
}

void DirectSource::build_bridges(const std::vector<int> &types)
{
  FlowMapBridgeSetup setup;
  setup.units = update->unit_style;
  setup.dimension = domain->dimension;
  setup.types = types;
  setup.ntypes = atom->ntypes;
  setup.box_lengths = box_lengths();
  try {
    setup.pair_commands = target_commands_;
    target_ = std::make_unique<FlowMapBridge>(setup);
    source_.reset();
    if (!source_commands_.empty()) {
      setup.pair_commands = source_commands_;
      source_ = std::make_unique<FlowMapBridge>(setup);
    }
  } catch (FlowMapBridgeError &e) {
    error->all(FLERR, "Compute ress {}: {}", id_, e.what());
  }
  natoms_ = atom->natoms;
  types_ = types;
}

// Positions relative to the box origin (when requested) and types of all atoms, ordered by
// atom ID, on every rank.
std::vector<int> DirectSource::gather(std::vector<double> *positions)
{
  const int n = static_cast<int>(atom->natoms);
  const int d = domain->dimension;
  const int stride = d + 1;
  std::vector<double> buffer(static_cast<std::size_t>(n) * stride, 0.0);
  for (int i = 0; i < atom->nlocal; ++i) {
    const tagint tag = atom->tag[i];
    if (tag < 1 || tag > n)
      error->one(FLERR, "Compute ress: atom ID {} outside 1..{}", tag, n);
    double *row = &buffer[static_cast<std::size_t>(tag - 1) * stride];
    for (int k = 0; k < d; ++k) row[k] = atom->x[i][k] - domain->boxlo[k];
    row[d] = atom->type[i];
  }
  MPI_Allreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(buffer.size()), MPI_DOUBLE,
                MPI_SUM, world);
  std::vector<int> types(n);
  if (positions) positions->resize(static_cast<std::size_t>(n) * d);
  for (int t = 0; t < n; ++t) {
    types[t] = static_cast<int>(buffer[static_cast<std::size_t>(t) * stride + d]);
    if (positions)
      for (int k = 0; k < d; ++k) (*positions)[t * d + k] = buffer[t * stride + k];
  }
  return types;
}

void DirectSource::init()
{
  if (atom->natoms != natoms_ && frames_ > 0)
    error->all(FLERR, "Compute ress {}: the number of atoms changed from {} to {} after {} "
                      "frames; the accumulated weights belong to the old system (define a "
                      "new compute ress)", id_, natoms_, atom->natoms, frames_);
  check_system();
  // Before the first frame the system may still change (atoms created after the compute).
  if (frames_ == 0) {
    const std::vector<int> types = gather(nullptr);
    if (atom->natoms != natoms_ || types != types_) build_bridges(types);
  }

  pe_ = nullptr;
  if (source_commands_.empty()) {
    pe_ = flowmap_compat::find_compute(modify, "thermo_pe");
    if (!pe_)
      error->all(FLERR, "Compute ress {}: source pe needs the thermo_pe compute, which "
                        "is missing", id_);
  }
}

std::vector<RESSSample> DirectSource::samples()
{
  if (atom->natoms != natoms_)
    error->all(FLERR, "Compute ress {}: the number of atoms changed from {} to {} after {} "
                      "frames; the accumulated weights belong to the old system", id_, natoms_,
               atom->natoms, frames_);
  if (natoms_ == 0) error->all(FLERR, "Compute ress {}: the system has no atoms", id_);
  const int d = domain->dimension;
  const std::size_t nd = static_cast<std::size_t>(natoms_) * d;

  std::vector<double> frame;
  const std::vector<int> types = gather(&frame);
  if (types != types_) {
    // Exchanges of types between atoms (fix atom/swap) relabel the same system: the frame is
    // relabelled to the types the bridges were built with (flowmap_species.h).
    try {
      const flowmap::Species built(std::vector<std::int64_t>(types_.begin(), types_.end()));
      frame = flowmap::relabel(
          frame, built.relabelling(std::vector<std::int64_t>(types.begin(), types.end())), d);
    } catch (std::invalid_argument &e) {
      error->all(FLERR, "Compute ress {} after {} frames: {}", id_, frames_, e.what());
    }
  }
  const std::vector<double> box_source = box_lengths();
  double volume = 1.0;
  for (double length : box_source) volume *= length;
  const double density_source = natoms_ / volume;

  // Configurations for the target bridge: the direct map first, then the scan densities.
  std::vector<double> densities = {density_ > 0.0 ? density_ : density_source};
  if (scan_) densities.insert(densities.end(), scan_->densities.begin(), scan_->densities.end());
  const std::size_t nconf = densities.size();
  std::vector<double> positions(nconf * nd), boxes(nconf * d), log_dets(nconf);
  for (std::size_t c = 0; c < nconf; ++c) {
    const double s = std::pow(density_source / densities[c], 1.0 / d);
    for (std::size_t v = 0; v < nd; ++v) positions[c * nd + v] = s * frame[v];
    for (int k = 0; k < d; ++k) boxes[c * d + k] = s * box_source[k];
    log_dets[c] = flowmap::scaling_log_det(
        natoms_, box_source, std::vector<double>(&boxes[c * d], &boxes[c * d] + d));
  }

  std::vector<double> target_energies(nconf);
  double source_energy = 0.0;
  try {
    target_->evaluate_distributed_per_box(world, positions.data(), static_cast<int>(nconf),
                                          boxes.data(), target_energies.data(), nullptr, false);
    if (source_)
      source_->evaluate_distributed(world, frame.data(), 1, box_source.data(), &source_energy,
                                    nullptr, false);
  } catch (FlowMapBridgeError &e) {
    error->all(FLERR, "Compute ress {}: {}", id_, e.what());
  }
  if (!source_) {
    if (pe_->invoked_scalar != update->ntimestep) pe_->compute_scalar();
    source_energy = pe_->scalar;
  }
  ++frames_;

  RESSSample sample;
  sample.step = update->ntimestep;
  sample.identity_target_energy = sample.identity_log_weight = kNaN;
  sample.source_energy = source_energy;
  sample.target_energy = target_energies[0];
  sample.log_weight = flowmap::log_weight(beta_source_, source_energy, beta_target_,
                                          target_energies[0], log_dets[0]);

  if (scan_) {
    const std::size_t nt = scan_->temperatures.size();
    for (std::size_t k = 0; k < scan_->densities.size(); ++k)
      for (std::size_t j = 0; j < nt; ++j)
        scan_->ress[k * nt + j].add(flowmap::log_weight(
            beta_source_, source_energy, 1.0 / (force->boltz * scan_->temperatures[j]),
            target_energies[k + 1], log_dets[k + 1]));
    if (comm->me == 0) write_scan(density_source);
  }
  return {sample};
}

// Rewritten after every frame and renamed into place, so a reader never sees half a table.
void DirectSource::write_scan(double source_density) const
{
  const std::string tmp = scan_->file + ".tmp";
  FILE *fp = fopen(tmp.c_str(), "w");
  if (!fp)
    error->one(FLERR, "Compute ress {}: cannot write scan table {}: {}", id_, tmp,
               utils::getsyserror());
  fmt::print(fp, "# compute ress {} state-point scan: identity-baseline RESS (isotropic "
                 "scaling of the source frames) after {} frames\n", id_, frames_);
  fmt::print(fp, "# source: T {} density {} N {}\n", t_source_, source_density, natoms_);
  fmt::print(fp, "# rho T ress frames free_energy\n");
  const std::size_t nt = scan_->temperatures.size();
  for (std::size_t k = 0; k < scan_->densities.size(); ++k)
    for (std::size_t j = 0; j < nt; ++j) {
      const auto &acc = scan_->ress[k * nt + j];
      fprintf(fp, "%.12g %.12g %.12g %zu %.12g\n", scan_->densities[k], scan_->temperatures[j],
              acc.ress(), acc.count(), acc.free_energy_difference());
    }
  const bool written = fclose(fp) == 0;
  if (!written || std::rename(tmp.c_str(), scan_->file.c_str()) != 0)
    error->one(FLERR, "Compute ress {}: cannot write scan table {}: {}", id_, scan_->file,
               utils::getsyserror());
}

double DirectSource::memory_usage() const
{
  double bytes = static_cast<double>(types_.size()) * sizeof(int);
  if (scan_) bytes += static_cast<double>(scan_->ress.size()) * sizeof(flowmap::StreamingRess);
  return bytes;
}

/* ----------------------------------------------------------------------
   Fix mode: frames mapped by fix flowmap (mode map), each once, in the order they were mapped,
   with the flow's weights and the identity-baseline weights of the same frames.
------------------------------------------------------------------------- */

class FixSource : public ComputeRESS::SampleSource {
 public:
  // The fix maps frames in batches; asking for them maps the frames still waiting, so an
  // invocation (thermo, fix ave/time, the end of a run) always sees every frame up to now.
  FixSource(LAMMPS *lmp, const char *id, const char *fix_id) :
      SampleSource(lmp), id_(id), fix_id_(fix_id)
  {
  }
  int parse_keyword(int, char **) override { return 0; }
  void setup() override
  {
    // A compute defined after frames were mapped starts with the next frame: runs in sets
    // (a new compute per set) then see only their own frames.
    find_fix();
    consumed_ = fix_->weighed_frames().size();
  }
  void init() override
  {
    find_fix();
    if (!fix_->mapping() && comm->me == 0)
      error->warning(FLERR, "Compute ress {}: fix {} is training, not mapping; frames reach "
                     "the compute only in mode map", id_, fix_id_);
  }
  bool has_baseline() const override { return true; }

  std::vector<RESSSample> samples() override
  {
    const auto &frames = fix_->weighed_frames();
    std::vector<RESSSample> out;
    for (; consumed_ < frames.size(); ++consumed_) {
      const auto &f = frames[consumed_];
      out.push_back({f.step, f.energy_from, f.energy_to, f.log_weight, f.energy_to_identity,
                     f.log_weight_identity});
    }
    return out;
  }

 private:
  void find_fix()
  {
    Fix *fix = flowmap_compat::find_fix(modify, fix_id_);
    if (!fix)
      error->all(FLERR, "Compute ress {}: fix {} does not exist; define fix flowmap first",
                 id_, fix_id_);
    fix_ = dynamic_cast<FixFlowMap *>(fix);
    if (!fix_)
      error->all(FLERR, "Compute ress {}: fix {} is a fix {}, not a fix flowmap", id_, fix_id_,
                 fix->style);
  }

  std::string id_, fix_id_;
  FixFlowMap *fix_ = nullptr;
  std::size_t consumed_ = 0;
};

}    // namespace

/* ---------------------------------------------------------------------- */

ComputeRESS::ComputeRESS(LAMMPS *lmp, int narg, char **arg) :
    Compute(lmp, narg, arg), nbootstrap_(100), seed_(5489u), frame_fp_(nullptr),
    processed_step_(-1)
{
  if (narg < 5)
    error->all(FLERR, "Illegal compute ress command: expected compute ID all ress Tsource "
                      "Ttarget target \"pair_style ...\" \"pair_coeff ...\" [keyword value ...]"
                      " or compute ID all ress fix fix-ID [keyword value ...]");
  if (igroup != 0)
    error->all(FLERR, "Compute ress: group {} is not all; the frame must contain every atom",
               arg[1]);

  if (strcmp(arg[3], "fix") == 0)
    source_ = std::make_unique<FixSource>(lmp, id, arg[4]);
  else
    source_ = std::make_unique<DirectSource>(lmp, id, arg[3], arg[4]);

  int iarg = 5;
  while (iarg < narg) {
    const std::string keyword = arg[iarg];
    if (keyword == "file" || keyword == "bootstrap" || keyword == "seed") {
      if (iarg + 1 >= narg)
        error->all(FLERR, "Illegal compute ress command: keyword {} needs a value", keyword);
      if (keyword == "file") {
        frame_file_ = arg[iarg + 1];
      } else if (keyword == "bootstrap") {
        nbootstrap_ = utils::inumeric(FLERR, arg[iarg + 1], false, lmp);
        if (nbootstrap_ < 0 || nbootstrap_ == 1)
          error->all(FLERR, "Illegal compute ress command: bootstrap {} must be 0 (no error "
                            "bars) or at least 2 resamples", arg[iarg + 1]);
      } else {
        const bigint seed = utils::bnumeric(FLERR, arg[iarg + 1], false, lmp);
        if (seed <= 0)
          error->all(FLERR, "Illegal compute ress command: seed {} must be > 0", arg[iarg + 1]);
        seed_ = static_cast<std::uint64_t>(seed);
      }
      iarg += 2;
      continue;
    }
    const int used = source_->parse_keyword(narg - iarg, arg + iarg);
    if (used == 0)
      error->all(FLERR, "Illegal compute ress command: unknown keyword '{}' (expected {})",
                 keyword, source_->has_baseline() ? "file, bootstrap or seed"
                                                  : "target, source, density, scan, file, "
                                                    "bootstrap or seed");
    iarg += used;
  }
  source_->setup();
  accumulator_ = std::make_unique<flowmap::WeightAccumulator>(nbootstrap_, seed_);
  // The same resamples for the baseline, so the ratio's two parts see the same frames.
  if (source_->has_baseline())
    baseline_ = std::make_unique<flowmap::WeightAccumulator>(nbootstrap_, seed_);

  vector_flag = 1;
  size_vector = baseline_ ? kFixVectorSize : kDirectVectorSize;
  extvector = 0;
  // Direct mode: the source energy of a frame is the step's potential energy, to be tallied.
  peflag = baseline_ ? 0 : 1;
  timeflag = 1;
  for (double &v : values_) v = 0.0;
  values_[3] = values_[4] = kNaN;
  values_[10] = values_[11] = values_[12] = kNaN;
  vector = values_;

  if (!frame_file_.empty()) open_frame_file();
}

ComputeRESS::~ComputeRESS()
{
  if (frame_fp_) fclose(frame_fp_);
}

void ComputeRESS::open_frame_file()
{
  if (comm->me != 0) return;
  frame_fp_ = fopen(frame_file_.c_str(), "w");
  if (!frame_fp_)
    error->one(FLERR, "Compute ress {}: cannot open file {}: {}", id, frame_file_,
               utils::getsyserror());
  if (baseline_)
    fmt::print(frame_fp_, "# compute ress {}: one line per frame mapped by fix flowmap\n"
               "# step U_from U_to log_w U_to_identity log_w_identity\n", id);
  else
    fmt::print(frame_fp_, "# compute ress {}: one line per frame\n"
               "# step U_source U_target log_w\n", id);
  fflush(frame_fp_);
}

void ComputeRESS::init()
{
  source_->init();
}

void ComputeRESS::compute_vector()
{
  invoked_vector = update->ntimestep;
  if (processed_step_ != update->ntimestep) {
    for (const auto &sample : source_->samples()) {
      accumulator_->add(sample.log_weight, sample.target_energy);
      if (baseline_) baseline_->add(sample.identity_log_weight, sample.identity_target_energy);
      values_[5] = sample.log_weight;
      values_[6] = sample.target_energy;
      // fprintf, not fmt: the bundled fmt's {:.17g} does not always round-trip.
      if (frame_fp_ && baseline_)
        fprintf(frame_fp_, BIGINT_FORMAT " %.17g %.17g %.17g %.17g %.17g\n", sample.step,
                sample.source_energy, sample.target_energy, sample.log_weight,
                sample.identity_target_energy, sample.identity_log_weight);
      else if (frame_fp_)
        fprintf(frame_fp_, BIGINT_FORMAT " %.17g %.17g %.17g\n", sample.step,
                sample.source_energy, sample.target_energy, sample.log_weight);
    }
    if (frame_fp_) fflush(frame_fp_);
    processed_step_ = update->ntimestep;

    const auto ress = accumulator_->ress();
    const auto free_energy = accumulator_->free_energy_difference();
    values_[0] = ress.value;
    values_[1] = ress.error;
    values_[2] = static_cast<double>(accumulator_->count());
    values_[3] = free_energy.value;
    values_[4] = free_energy.error;
    values_[7] = accumulator_->reweighted_mean();
    if (baseline_) {
      const auto identity = baseline_->ress();
      const auto identity_free_energy = baseline_->free_energy_difference();
      values_[8] = identity.value;
      values_[9] = identity.error;
      values_[10] = identity_free_energy.value;
      values_[11] = identity_free_energy.error;
      values_[12] = identity.value > 0.0 ? ress.value / identity.value : kNaN;
    }
  }
}

double ComputeRESS::memory_usage()
{
  return source_->memory_usage() +
         static_cast<double>(nbootstrap_) * (baseline_ ? 12 : 6) * sizeof(double);
}
