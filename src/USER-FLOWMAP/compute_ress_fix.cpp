/* ----------------------------------------------------------------------
   USER-FLOWMAP: compute ress in fix mode (see compute_ress_fix.h).
------------------------------------------------------------------------- */

#include "compute_ress_fix.h"

#include "fix_flowmap.h"
#include "flowmap_lammps_compat.h"

#include "comm.h"
#include "error.h"
#include "modify.h"

using namespace LAMMPS_NS;

// The fix maps frames in batches; asking for them maps the frames still waiting, so an
// invocation (thermo, fix ave/time, the end of a run) always sees every frame up to now.
RESSFixSource::RESSFixSource(LAMMPS *lmp, const char *id, const char *fix_id) :
    RESSSampleSource(lmp), id_(id), fix_id_(fix_id)
{
}

void RESSFixSource::setup()
{
  // A compute defined after frames were mapped starts with the next frame: runs in sets
  // (a new compute per set) then see only their own frames.
  find_fix();
  consumed_ = fix_->weighed_frames().size();
}

void RESSFixSource::init()
{
  // After unfix and a new fix flowmap with the same ID, every frame of the new fix is new.
  const std::uint64_t serial = fix_serial_;
  find_fix();
  if (fix_serial_ != serial) consumed_ = 0;
  if (!fix_->mapping() && comm->me == 0)
    error->warning(FLERR, "Compute ress {}: fix {} is training, not mapping; frames reach "
                   "the compute only in mode map", id_, fix_id_);
}

std::vector<RESSSample> RESSFixSource::samples()
{
  const auto &frames = fix_->weighed_frames();
  std::vector<RESSSample> out;
  for (; consumed_ < frames.size(); ++consumed_) {
    const auto &w = frames[consumed_];
    out.push_back({w.step, w.energy_from, w.energy_to, w.log_weight, w.energy_to_identity,
                   w.log_weight_identity});
  }
  return out;
}

void RESSFixSource::find_fix()
{
  Fix *fix = flowmap_compat::find_fix(modify, fix_id_);
  if (!fix)
    error->all(FLERR, "Compute ress {}: fix {} does not exist; define fix flowmap first", id_,
               fix_id_);
  fix_ = dynamic_cast<FixFlowMap *>(fix);
  if (!fix_)
    error->all(FLERR, "Compute ress {}: fix {} is a fix {}, not a fix flowmap", id_, fix_id_,
               fix->style);
  fix_serial_ = fix_->serial();
}
