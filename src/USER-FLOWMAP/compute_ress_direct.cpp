/* ----------------------------------------------------------------------
   USER-FLOWMAP: compute ress in direct mode (see compute_ress_direct.h).
------------------------------------------------------------------------- */

#include "compute_ress_direct.h"

#include "compute_ress_scan.h"
#include "flowmap_basin_map.h"
#include "flowmap_collective.h"
#include "flowmap_distributed_energy.h"
#include "flowmap_lammps_bridge.h"
#include "flowmap_lammps_compat.h"
#include "flowmap_lammps_pair_commands.h"
#include "flowmap_mapping.h"
#include "flowmap_weights.h"

#include "atom.h"
#include "comm.h"
#include "compute.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "modify.h"
#include "update.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace LAMMPS_NS;

namespace {

// The minimiser's force tolerance, and how close two minima must be to be one inherent
// structure: minimisations from one basin agree to about 1e-11, distinct minima differ by far
// more than 1e-6 (lengths in the simulation's units).
constexpr double kMinimiserForceTolerance = 1e-10;
constexpr double kSameMinimum = 1e-6;

std::string joined(const std::vector<std::string> &lines)
{
  std::string s;
  for (const auto &line : lines) s += (s.empty() ? "\"" : " \"") + line + "\"";
  return s;
}

double temperature(LAMMPS *lmp, const char *text, const char *which)
{
  const double t = utils::numeric(FLERR, text, false, lmp);
  // strtod reads 1e999 as infinity
  if (!(t > 0.0 && std::isfinite(t)))
    lmp->error->all(FLERR, "Illegal compute ress command: {} temperature {} must be > 0 and "
                    "finite", which, text);
  return t;
}

}    // namespace

RESSDirectSource::RESSDirectSource(LAMMPS *lmp, const char *id, const char *t_source,
                                   const char *t_target) :
    RESSSampleSource(lmp), id_(id), t_source_(temperature(lmp, t_source, "source")),
    t_target_(temperature(lmp, t_target, "target")),
    frame_(lmp, std::string("Compute ress ") + id, FlowMapFrame::Box::variable)
{
}

RESSDirectSource::~RESSDirectSource() = default;

int RESSDirectSource::parse_keyword(int narg, char **arg)
{
  const std::string keyword = arg[0];
  if (keyword == "target" || keyword == "source") {
    if (keyword == "source" && narg > 1 && strcmp(arg[1], "pe") == 0) {
      source_commands_.clear();
      return 2;
    }
    auto commands = pair_commands_at(lmp, narg - 1, arg + 1);
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
    if (!(density_ > 0.0 && std::isfinite(density_)))
      error->all(FLERR, "Illegal compute ress command: target density {} must be > 0 and finite",
                 arg[1]);
    return 2;
  }
  if (keyword == "basin") {
    if (narg < 2)
      error->all(FLERR, "Illegal compute ress command: basin needs a value: auto or the "
                        "factor s > 0 of y = m + s (x - m)");
    basin_ = true;
    basin_factor_ = 0.0;
    if (strcmp(arg[1], "auto") != 0) {
      basin_factor_ = utils::numeric(FLERR, arg[1], false, lmp);
      if (!(basin_factor_ > 0.0 && std::isfinite(basin_factor_)))
        error->all(FLERR, "Illegal compute ress command: basin factor {} must be auto or > 0 "
                          "and finite", arg[1]);
    }
    return 2;
  }
  if (keyword == "scan") {
    if (narg < 8)
      error->all(FLERR, "Illegal compute ress command: scan needs 7 values: rho_lo rho_hi nrho "
                        "T_lo T_hi nT file");
    scan_ = std::make_unique<RESSScan>(lmp, id_, arg + 1);
    return 8;
  }
  return 0;
}

void RESSDirectSource::setup()
{
  if (target_commands_.empty())
    error->all(FLERR, "Compute ress: missing target keyword: give the target Hamiltonian as "
                      "target \"pair_style ...\" \"pair_coeff ...\"");
  if (basin_) {
    if (source_commands_.empty())
      error->all(FLERR, "Compute ress {}: basin needs the source Hamiltonian as pair commands "
                        "(source \"pair_style ...\" \"pair_coeff ...\"), not pe: the inherent "
                        "structures and the source energies of the images come from them", id_);
    if (density_ > 0.0 || scan_)
      error->all(FLERR, "Compute ress {}: basin cannot be combined with {}: the basin map keeps "
                        "the box", id_, density_ > 0.0 ? "density" : "scan");
    if (basin_factor_ == 0.0) basin_factor_ = std::sqrt(t_target_ / t_source_);
  }
  beta_source_ = 1.0 / (force->boltz * t_source_);
  beta_target_ = 1.0 / (force->boltz * t_target_);
  frame_.check_system(0);
  build_bridges();

  if (comm->me == 0) {
    std::string map = density_ > 0.0 ? fmt::format("isotropic scaling to density {}", density_)
                      : basin_ ? fmt::format("basin (y = m + {} (x - m) about each frame's "
                                             "inherent structure m, with the identity)",
                                             basin_factor_)
                               : std::string("identity");
    utils::logmesg(lmp, "compute ress {}: direct mode, {} map, T_source {} -> T_target {}\n"
                        "  target: {}\n  source: {}\n", id_, map, t_source_, t_target_,
                   joined(target_commands_),
                   source_commands_.empty() ? std::string("pe (the simulation's own)")
                                            : joined(source_commands_));
    if (scan_) utils::logmesg(lmp, "  scan: {}\n", scan_->describe());
  }
}

void RESSDirectSource::build_bridges()
{
  const auto box = frame_.current_box_lengths();
  try {
    target_ = std::make_unique<FlowMapBridge>(frame_.bridge_setup(box, target_commands_));
    source_.reset();
    if (!source_commands_.empty())
      source_ = std::make_unique<FlowMapBridge>(frame_.bridge_setup(box, source_commands_));
  } catch (FlowMapBridgeError &e) {
    error->all(FLERR, "Compute ress {}: {}", id_, e.what());
  }
}

void RESSDirectSource::init()
{
  // Before the first frame the system may still change (atoms created after the compute);
  // after it, FlowMapFrame refuses a different number of atoms.
  if (frame_.frames() == 0) frame_.forget();
  frame_.check_system(0);
  if (frame_.frames() == 0 && frame_.types() != target_->setup().types) build_bridges();

  pe_ = nullptr;
  if (source_commands_.empty()) {
    pe_ = flowmap_compat::find_compute(modify, "thermo_pe");
    if (!pe_)
      error->all(FLERR, "Compute ress {}: source pe needs the thermo_pe compute, which "
                        "is missing", id_);
  }
}

std::vector<RESSSample> RESSDirectSource::samples()
{
  const bigint natoms = frame_.natoms();
  if (natoms == 0) error->all(FLERR, "Compute ress {}: the system has no atoms", id_);
  const int d = frame_.dimension();
  const std::size_t nd = static_cast<std::size_t>(natoms) * d;

  // Positions relative to the box origin: the scaling below is about the origin.
  std::vector<double> frame = frame_.gather();
  for (std::size_t v = 0; v < nd; ++v) frame[v] -= domain->boxlo[v % d];
  const std::vector<double> box_source = frame_.current_box_lengths();
  if (basin_) return basin_samples(frame, box_source);
  const double density_source = flowmap::number_density(natoms, box_source);

  // Configurations for the target bridge: the direct map first, then the scan densities.
  std::vector<double> densities = {density_ > 0.0 ? density_ : density_source};
  if (scan_)
    densities.insert(densities.end(), scan_->densities().begin(), scan_->densities().end());
  const std::size_t nconf = densities.size();
  std::vector<double> positions(nconf * nd), boxes(nconf * d), log_dets(nconf);
  for (std::size_t c = 0; c < nconf; ++c) {
    const double s = flowmap::density_scale(natoms, box_source, densities[c]);
    for (std::size_t v = 0; v < nd; ++v) positions[c * nd + v] = s * frame[v];
    for (int k = 0; k < d; ++k) boxes[c * d + k] = s * box_source[k];
    log_dets[c] = flowmap::scaling_log_det(
        natoms, box_source, std::vector<double>(&boxes[c * d], &boxes[c * d] + d));
  }

  std::vector<double> target_energies(nconf);
  double source_energy = 0.0;
  try {
    flowmap::evaluate_distributed(*target_, world, positions.data(), static_cast<int>(nconf),
                                  boxes.data(), d, target_energies.data(), nullptr, false);
    if (source_)
      flowmap::evaluate_distributed(*source_, world, frame.data(), 1, box_source.data(), 0,
                                    &source_energy, nullptr, false);
  } catch (flowmap::CollectiveError &e) {
    error->all(FLERR, "Compute ress {}: {}", id_, e.what());
  }
  if (!source_) {
    if (pe_->invoked_scalar != update->ntimestep) pe_->compute_scalar();
    source_energy = pe_->scalar;
  }

  RESSSample sample;
  sample.step = update->ntimestep;
  sample.identity_target_energy = sample.identity_log_weight =
      std::numeric_limits<double>::quiet_NaN();
  sample.source_energy = source_energy;
  sample.target_energy = target_energies[0];
  sample.log_weight = flowmap::log_weight(beta_source_, source_energy, beta_target_,
                                          target_energies[0], log_dets[0]);

  if (scan_) {
    scan_->add(beta_source_, source_energy,
               std::vector<double>(target_energies.begin() + 1, target_energies.end()),
               std::vector<double>(log_dets.begin() + 1, log_dets.end()));
    scan_->write(t_source_, density_source, natoms);
  }
  return {sample};
}

// Every rank minimises the same frame on its own helper instead of sharing the work: three
// minimisations of one configuration do not split, and identical inputs give every rank the
// same samples without a broadcast.
std::vector<RESSSample> RESSDirectSource::basin_samples(const std::vector<double> &frame,
                                                        const std::vector<double> &box)
{
  const double s = basin_factor_;
  const std::size_t nd = frame.size();
  std::vector<double> minimum(nd), image_minimum(nd), preimage_minimum(nd);
  std::vector<double> source_energies(3), target_energies(2);
  std::vector<double> image, preimage;
  try {
    source_->inherent_structure(frame.data(), box.data(), minimum.data(),
                                kMinimiserForceTolerance);
    image = flowmap::scale_about_minimum(frame, minimum, box, s);
    preimage = flowmap::scale_about_minimum(frame, minimum, box, 1.0 / s);
    source_->inherent_structure(image.data(), box.data(), image_minimum.data(),
                                kMinimiserForceTolerance);
    source_->inherent_structure(preimage.data(), box.data(), preimage_minimum.data(),
                                kMinimiserForceTolerance);
    std::vector<double> configurations(frame);
    configurations.insert(configurations.end(), image.begin(), image.end());
    configurations.insert(configurations.end(), preimage.begin(), preimage.end());
    source_->evaluate(configurations.data(), 3, box.data(), source_energies.data(), nullptr,
                      false);
    target_->evaluate(configurations.data(), 2, box.data(), target_energies.data(), nullptr,
                      false);
  } catch (FlowMapBridgeError &e) {
    error->all(FLERR, "Compute ress {}: {}", id_, e.what());
  }
  const bool image_kept =
      flowmap::largest_displacement(image_minimum, minimum, box) <= kSameMinimum;
  const bool has_preimage =
      flowmap::largest_displacement(preimage_minimum, minimum, box) <= kSameMinimum;
  const double log_det = flowmap::basin_map_log_det(frame_.natoms(), frame_.dimension(), s);
  // Two samples per frame: log 2 makes the mean weight over samples sum_z w(z) / frames.
  const double log_two = std::log(2.0);

  RESSSample mapped;
  mapped.step = update->ntimestep;
  mapped.identity_target_energy = mapped.identity_log_weight =
      std::numeric_limits<double>::quiet_NaN();
  mapped.source_energy = source_energies[0];
  mapped.target_energy = target_energies[1];
  mapped.log_weight = image_kept ? flowmap::basin_mixture_log_weight(
                                       beta_source_, beta_target_, source_energies[1],
                                       target_energies[1], true, source_energies[0], log_det) +
                                       log_two
                                 : -std::numeric_limits<double>::infinity();
  RESSSample itself = mapped;
  itself.target_energy = target_energies[0];
  itself.log_weight = flowmap::basin_mixture_log_weight(beta_source_, beta_target_,
                                                        source_energies[0], target_energies[0],
                                                        has_preimage, source_energies[2],
                                                        log_det) +
                      log_two;
  return {mapped, itself};
}

double RESSDirectSource::memory_usage() const
{
  double bytes = static_cast<double>(frame_.types().size()) * sizeof(int);
  if (scan_) bytes += scan_->memory_usage();
  return bytes;
}
