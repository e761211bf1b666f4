/* ----------------------------------------------------------------------
   USER-FLOWMAP: compute ress (see compute_ress.h and doc/compute_ress.rst).
------------------------------------------------------------------------- */

#include "compute_ress.h"

#include "compute_ress_direct.h"
#include "compute_ress_fix.h"
#include "flowmap_collective.h"

#include "comm.h"
#include "error.h"
#include "update.h"

#include <cstring>
#include <limits>
#include <stdexcept>

using namespace LAMMPS_NS;

namespace {

constexpr int kDirectVectorSize = 8;
constexpr int kFixVectorSize = 13;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

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
    source_ = std::make_unique<RESSFixSource>(lmp, id, arg[4]);
  else
    source_ = std::make_unique<RESSDirectSource>(lmp, id, arg[3], arg[4]);

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
                 keyword, source_->keywords());
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
  // Rank 0 writes; its failure (a missing directory) must reach every rank as a named error,
  // not as an abort from rank 0 alone.
  try {
    flowmap::run_collectively(world, [&] {
      if (comm->me != 0) return;
      frame_fp_ = fopen(frame_file_.c_str(), "w");
      if (!frame_fp_) throw std::runtime_error(utils::getsyserror());
    });
  } catch (flowmap::CollectiveError &e) {
    error->all(FLERR, "Compute ress {}: cannot open file {}: {}", id, frame_file_, e.what());
  }
  if (comm->me != 0) return;
  if (baseline_)
    fmt::print(frame_fp_, "# compute ress {}: one line per frame mapped by fix flowmap\n"
               "# step U_from U_to log_w U_to_identity log_w_identity\n", id);
  else
    fmt::print(frame_fp_, "# compute ress {}: {}\n# step U_source U_target log_w\n", id,
               source_->file_lines());
  fflush(frame_fp_);
}

void ComputeRESS::init()
{
  source_->init();
}

void ComputeRESS::compute_vector()
{
  invoked_vector = update->ntimestep;
  if (processed_step_ == update->ntimestep) return;
  const bigint nonfinite_before = nonfinite_;
  for (auto sample : source_->samples()) {
    // A frame whose log-weight is NaN or +inf (overlapping atoms: infinite energies in both
    // Hamiltonians) would poison every later number; it gets weight 0 and is counted.
    if (!(sample.log_weight < kInf)) {
      sample.log_weight = -kInf;
      ++nonfinite_;
    }
    if (!(sample.identity_log_weight < kInf)) sample.identity_log_weight = -kInf;
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
  // Warned at the 1st, 10th, 100th ... such frame: counted, not repeated every step.
  if (nonfinite_ >= next_warning_ && nonfinite_ > nonfinite_before) {
    while (next_warning_ <= nonfinite_) next_warning_ *= 10;
    if (comm->me == 0)
      error->warning(FLERR, "Compute ress {}: {} of {} frames so far had a non-finite log-weight "
                     "(NaN or +inf: overlapping atoms?) and count with weight 0", id,
                     nonfinite_, accumulator_->count());
  }

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

double ComputeRESS::memory_usage()
{
  return source_->memory_usage() +
         static_cast<double>(nbootstrap_) * (baseline_ ? 12 : 6) * sizeof(double);
}
