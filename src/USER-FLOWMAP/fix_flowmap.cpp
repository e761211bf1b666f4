/* ----------------------------------------------------------------------
   USER-FLOWMAP: fix flowmap (see fix_flowmap.h and doc/fix_flowmap.rst)
------------------------------------------------------------------------- */

#include "fix_flowmap.h"

#include "flowmap_autocorrelation.h"
#include "flowmap_blas_check.h"
#include "flowmap_collective.h"
#include "flowmap_lammps_bridge.h"
#include "flowmap_lammps_compat.h"
#include "flowmap_lammps_energy_check.h"
#include "flowmap_lammps_frame.h"
#include "flowmap_mapping.h"
#include "flowmap_model_file.h"
#include "flowmap_session_factory.h"
#include "flowmap_session.h"
#include "flowmap_tensor_cache.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "modify.h"
#include "universe.h"
#include "update.h"

#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <sstream>

#include <unistd.h>

using namespace LAMMPS_NS;
using namespace FixConst;
using flowmap::Ensemble;

namespace {

// Global vector, in the order documented in doc/fix_flowmap.rst.
enum Output {
  STEPS, LOSS, LOSS_KLD, LOSS_NLL, LEARNING_RATE, SKIPPED, RESS_FORWARD, RESS_FORWARD_IDENTITY,
  RESS_INVERSE, RESS_INVERSE_IDENTITY, POOL_SOURCE, POOL_TARGET, FRAMES, TIME_MD, TIME_ENERGY,
  TIME_NETWORK, TIME_COMM, LOG_WEIGHT, LOG_WEIGHT_IDENTITY, ENERGY_MAPPED, DECORRELATION,
  KL_GAIN_FORWARD, KL_GAIN_INVERSE, LOSS_REWEIGHTED, BATCH_ESS, NUM_OUTPUTS
};

// Freed tensor blocks kept for reuse, at most: several times a rank's working set with the
// published network at the default batch, so that the cache never grows with the run.
constexpr std::size_t kTensorCacheLimit = std::size_t{2} << 30;

double seconds_since(std::chrono::steady_clock::time_point t)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string first_line(const std::string &text)
{
  return text.substr(0, text.find('\n'));
}

std::uint64_t next_serial()
{
  static std::uint64_t count = 0;
  return ++count;
}

}    // namespace

/* ---------------------------------------------------------------------- */

FixFlowMap::FixFlowMap(LAMMPS *lmp, int narg, char **arg) :
    Fix(lmp, narg, arg), serial_(next_serial())
{
  if (narg < 6) error->all(FLERR, "Illegal fix flowmap command: expected fix ID group flowmap "
                           "Nevery Tsource Ttarget keyword value ...");
  nevery = utils::inumeric(FLERR, arg[3], false, lmp);
  if (nevery <= 0) error->all(FLERR, "Fix flowmap Nevery must be > 0, got {}", arg[3]);
  settings_ = parse_flowmap_settings(lmp, narg, arg);

  vector_flag = 1;
  size_vector = NUM_OUTPUTS;
  global_freq = nevery;
  extvector = 0;
  restart_global = 1;
  peratom_flag = 1;
  size_peratom_cols = 3;
  // In map mode frames are mapped mapbatch at a time; the per-atom output holds the frame of
  // the step on which a batch completes, so LAMMPS refuses dumps at other steps.
  peratom_freq = mapping() ? nevery * settings_.map_batch : nevery;

  grow_arrays(atom->nmax);
  atom->add_callback(Atom::GROW);
  for (int i = 0; i < atom->nlocal; ++i) mapped_[i][0] = mapped_[i][1] = mapped_[i][2] = 0.0;
}

FixFlowMap::~FixFlowMap()
{
  atom->delete_callback(id, Atom::GROW);
  memory->destroy(mapped_);
}

int FixFlowMap::setmask()
{
  return END_OF_STEP;
}

/* ---------------------------------------------------------------------- */

void FixFlowMap::init()
{
  check_other_fixes();
  // rerun calls init() before every frame: build once, afterwards only re-check the system.
  if (!built_) {
    build();
    built_ = true;
  } else {
    frame_->check_system(igroup);
  }
}

// Two fixes of one simulation writing the same file would overwrite each other's model
// (partitions share one on purpose: only the first process of the universe writes it).
void FixFlowMap::check_other_fixes()
{
  const auto &s = settings_;
  for (int i = 0; i < modify->nfix; ++i) {
    const auto *other = dynamic_cast<FixFlowMap *>(modify->fix[i]);
    if (!other || other == this) continue;
    for (const auto &file : {s.save, s.checkpoint_file}) {
      if (file.empty()) continue;
      if (file == other->settings_.save || file == other->settings_.checkpoint_file)
        error->all(FLERR, "Fix flowmap {} and fix flowmap {} both write {}: each fix needs its "
                   "own save and checkpoint files", other->id, id, file);
    }
  }
}

// The frames the session will hold, against this machine's memory, before allocating them.
void FixFlowMap::check_memory(int natoms, int dimension)
{
  const auto &s = settings_;
  const double bytes = flowmap::pool_bytes(s.session, natoms, dimension) +
      static_cast<double>(s.map_batch) * natoms * dimension * sizeof(double);
  const double machine = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  if (machine > 0.0 && bytes > 0.8 * machine)
    error->all(FLERR, "Fix flowmap: pool {} and holdout {} (mapbatch {}) need about {:.3g} GB per "
               "process for {} atoms in {}D (2 x (pool + holdout) x (N d + 1) x 8 bytes), more "
               "than this machine's {:.3g} GB of memory can hold; use smaller pool or holdout",
               s.session.pool_capacity, s.session.holdout_capacity, s.map_batch, bytes / 1e9,
               natoms, dimension, machine / 1e9);
}

// Once, on a step with tallied energies: the state the simulation samples must have the
// Hamiltonian the fix was given for it, or every weight is wrong without a word.
void FixFlowMap::check_hamiltonian()
{
  double simulated = 0.0;
  if (!simulated_pair_energy(lmp, simulated)) return;
  const double own = own_energy(frame_->gather());
  // Overlapping atoms (infinite energies) cannot be compared; a later setup will.
  if (!std::isfinite(simulated) || !std::isfinite(own)) return;
  hamiltonian_checked_ = true;
  if (same_pair_energy(simulated, own)) return;
  const char *state = settings_.forward ? "source" : "target";
  error->all(FLERR, "Fix flowmap: the simulation's pair energy is {:.10g}, but the {} "
             "Hamiltonian of the fix (keyword {}) gives {:.10g} for the same atoms; with "
             "direction {} the simulation samples the {} state and must run its pair commands",
             simulated, state, state, own, settings_.forward ? "forward" : "inverse", state);
}

void FixFlowMap::build()
{
  auto &s = settings_;
  frame_ = std::make_unique<FlowMapFrame>(lmp, "Fix flowmap", FlowMapFrame::Box::fixed);
  frame_->check_system(igroup);
  adopt_restart_types();
  const int n = frame_->natoms();

  // The simulation fixes the box of the ensemble it samples; the other box follows from its
  // density (isotropic scaling), or from the model when one is loaded.
  const int own = s.forward ? 0 : 1;
  const auto &box = frame_->box_lengths();
  const double own_density = flowmap::number_density(n, box);
  if (s.density[own] > 0.0 && std::fabs(s.density[own] - own_density) > 1e-6 * own_density)
    error->all(FLERR, "Fix flowmap {} {} differs from the simulated {} density {}",
               own == 0 ? "sourcedensity" : "density", s.density[own],
               own == 0 ? "source" : "target", own_density);
  std::vector<double> boxes[2];
  for (int e = 0; e < 2; ++e)
    boxes[e] = flowmap::box_at_density(n, box, s.density[e] > 0.0 ? s.density[e] : own_density);

  check_memory(n, frame_->dimension());
  make_bridges(boxes);
  set_threads();
  check_files();
  make_session(boxes);
  restart_bytes_.clear();
  mapper_ = std::make_unique<FlowMapMapper>(lmp, *session_, s.forward,
                                            s.forward ? *source_bridge_ : *target_bridge_,
                                            s.forward ? *target_bridge_ : *source_bridge_);
  // A resumed session already holds the frames it was trained on.
  if (!mapping() && !resumed_)
    training_->add_frames_from_files(s.forward ? *target_bridge_ : *source_bridge_,
                                     frame_->species());
}

// Swap moves (fix atom/swap) exchange types between atoms, so a run continued by read_restart
// holds the composition its flow recorded in another order by atom ID. Exchanging the labels of
// two atoms of one species changes no Boltzmann weight, so the frames are relabelled to the
// flow's order, as they were before the restart. A flow given by keyword load is not adopted
// this way: the system must start with its types by atom ID (refused in make_session()).
void FixFlowMap::adopt_restart_types()
{
  if (restart_bytes_.empty()) return;
  std::vector<int> recorded;
  try {
    // Every rank holds the same restart bytes and reads the same types.
    auto archive = flowmap::load_archive_bytes(restart_bytes_, "the restart file");
    const auto model = flowmap::read_model(archive, "the restart file");
    for (const auto t : model.species().types()) recorded.push_back(static_cast<int>(t));
  } catch (std::exception &) {
    return;    // make_session() reports what is wrong with the restart file
  }
  if (recorded.empty() || recorded == frame_->types()) return;
  try {
    frame_->adopt_types(recorded);
  } catch (std::invalid_argument &) {
    return;    // another composition: make_session() refuses it, naming both
  }
  if (comm->me == 0)
    utils::logmesg(lmp, "fix flowmap: the atoms hold their types in another order by atom ID "
                   "than the flow of the restart file (swap moves); frames are relabelled "
                   "within each species to the flow's order\n");
}

void FixFlowMap::make_bridges(const std::vector<double> (&boxes)[2])
{
  // Keyword core sets one radius for every pair of types; without it each pair gets 0.8 of its
  // own sigma where the pair style reports sigma, else 0.8 in lj units (none in others).
  const auto &s = settings_;
  const double core = s.core >= 0.0 ? s.core : (strcmp(update->unit_style, "lj") == 0 ? 0.8 : 0.0);
  for (int e = 0; e < 2; ++e) {
    auto setup = frame_->bridge_setup(boxes[e], s.pair_commands[e]);
    setup.core_radius = core;
    setup.core_sigma = s.core >= 0.0 ? 0.0 : 0.8;
    try {
      (e == 0 ? source_bridge_ : target_bridge_) = std::make_unique<FlowMapBridge>(setup);
    } catch (std::exception &err) {
      error->all(FLERR, "Fix flowmap {} Hamiltonian: {}", e == 0 ? "source" : "target",
                 err.what());
    }
    const auto &bridge = e == 0 ? *source_bridge_ : *target_bridge_;
    if (comm->me == 0) {
      utils::logmesg(lmp, "fix flowmap: {} core radii (training only): {}\n",
                     e == 0 ? "source" : "target", bridge.core_radii_text());
      if (s.core < 0.0 && !bridge.core_covers_all_pairs())
        error->warning(FLERR, "Fix flowmap: some {} pairs of types have no core radius (their "
                       "pair style reports no sigma; units {}): their energies are not "
                       "regularised for overlapping particles (keyword core)",
                       e == 0 ? "source" : "target", update->unit_style);
    }
  }
}

// LAMMPS's own OpenMP threads per rank (OMP_NUM_THREADS or -pk omp, 1 if neither is set) unless
// keyword threads says otherwise. More ranks rather than more threads: for system I 2 ranks x 1
// thread trained 2.2x faster than 1 rank x 2 threads (bench/README.md).
void FixFlowMap::set_threads()
{
  const int threads = settings_.threads > 0 ? settings_.threads : std::max(1, comm->nthreads);
  torch::set_num_threads(threads);
  // OpenBLAS keeps its own pool (one thread per core): left alone, its threads and LibTorch's
  // compete for the same cores, which made a training step 2x slower here.
  flowmap::set_blas_threads(threads);
  // LibTorch hands every tensor to malloc, and glibc serves blocks of a few MB with fresh pages
  // that are faulted in and zeroed on every call. Keeping freed blocks by size made a training
  // step of the default network 1.5x faster at a rank's batch of 64, and mapping with the
  // published network 4x (bench/README.md). Process-wide, and it stays on once on.
  if (settings_.tensor_cache) flowmap::enable_tensor_cache(kTensorCacheLimit);
  if (comm->me != 0) return;
  const auto blas = flowmap::check_blas();
  utils::logmesg(lmp, "fix flowmap: {} torch threads per rank, tensor cache {}; {}\n",
                 torch::get_num_threads(), flowmap::tensor_cache_enabled() ? "on" : "off",
                 blas.summary);
  if (blas.slow)
    error->warning(FLERR, "Fix flowmap: matrix products are slow ({}); install OpenBLAS "
                   "(libopenblas0-openmp) for a 10x faster flow", blas.summary);
  if (blas.avx512_kernels)
    error->warning(FLERR, "Fix flowmap: OpenBLAS uses its {} (AVX-512) kernels, whose float64 "
                   "gradients were wrong in USER-FLOWMAP's tests with OpenBLAS 0.3.21; set "
                   "OPENBLAS_CORETYPE=Haswell in the environment of lmp", blas.core);
}

// Whether the model file can be written, found out now rather than after an hour of training.
void FixFlowMap::check_files()
{
  const auto &s = settings_;
  if (s.save.empty()) return;
  try {
    flowmap::run_collectively(world, [&] {
      if (comm->me != 0) return;
      const std::string probe = s.save + ".writable";
      FILE *fp = fopen(probe.c_str(), "w");
      if (!fp) throw std::runtime_error(utils::getsyserror());
      fclose(fp);
      remove(probe.c_str());
    });
  } catch (flowmap::CollectiveError &err) {
    error->all(FLERR, "Fix flowmap cannot write its model file {}: {}", s.save, err.what());
  }
}

// Model: a read_restart state, a model or checkpoint file, or a new identity flow.
void FixFlowMap::make_session(const std::vector<double> (&boxes)[2])
{
  const auto &s = settings_;
  flowmap::SessionPlan plan;
  plan.flow = s.flow;
  plan.session = s.session;
  plan.states.num_particles = frame_->natoms();
  plan.states.dimension = frame_->dimension();
  plan.states.source_box = boxes[0];
  plan.states.target_box = boxes[1];
  plan.states.beta_source = 1.0 / (force->boltz * s.temperature[0]);
  plan.states.beta_target = 1.0 / (force->boltz * s.temperature[1]);
  plan.units = update->unit_style;
  plan.source_temperature = s.temperature[0];
  plan.target_temperature = s.temperature[1];
  plan.rank = universe->me;
  plan.nranks = universe->nprocs;
  plan.reducer = flowmap::sum_over(universe->uworld);

  // The flow is equivariant under permutations within a species only; see flowmap_species.h.
  plan.species = frame_->species();

  const bool from_restart = !restart_bytes_.empty();
  const bool from_file = !from_restart && !s.load.empty();
  const std::string origin = from_restart ? "the restart file" : "model file '" + s.load + "'";
  torch::Tensor schedule;    // the training schedule's counters of a resumed session
  try {
    flowmap::SessionStart start;
    if (!from_restart && !from_file) {
      start = flowmap::new_session(plan, *source_bridge_, *target_bridge_);
    } else {
      auto archive = from_restart ? flowmap::load_archive_bytes(restart_bytes_, origin)
                                  : flowmap::load_archive(s.load);
      start = flowmap::load_session(archive, origin, !mapping() && (s.resume || from_restart),
                                    plan, *source_bridge_, *target_bridge_);
      if (start.resumed) archive.try_read(FlowMapTraining::kScheduleKey, schedule);
    }
    session_ = std::move(start.session);
    resumed_ = start.resumed;
    if (comm->me == 0)
      for (const auto &warning : start.warnings) error->warning(FLERR, "Fix flowmap: {}", warning);
  } catch (flowmap::ModelFileError &err) {
    error->all(FLERR, "Fix flowmap: {}", err.what());
  } catch (std::invalid_argument &err) {
    error->all(FLERR, "Fix flowmap: {}", err.what());
  } catch (std::exception &err) {
    // LibTorch's own errors (an allocation, a damaged archive LibTorch itself refused).
    if (from_restart || from_file)
      error->all(FLERR, "Fix flowmap could not read {}: {}", origin, first_line(err.what()));
    error->all(FLERR, "Fix flowmap could not create its flow: {}", first_line(err.what()));
  }
  training_ = std::make_unique<FlowMapTraining>(lmp, *session_, settings_, times_);
  if (schedule.defined()) training_->restore(schedule);
  if (comm->me == 0)
    utils::logmesg(lmp, "fix flowmap: {} flow, {} ({} -> {} particles in {}D{}){}\n",
                   from_restart || from_file ? "loaded" : "new identity",
                   session_->model().options().describe(), frame_->natoms(), frame_->natoms(),
                   frame_->dimension(),
                   plan.species.num_species() > 1 ? "; " + plan.species.describe() : std::string(),
                   resumed_ ? fmt::format(", training resumed at step {}",
                                          session_->trainer().steps())
                            : "");
}

/* ---------------------------------------------------------------------- */

void FixFlowMap::setup(int)
{
  if (!hamiltonian_checked_) check_hamiltonian();
  // In map mode the frame a run starts from is mapped too, so that a dump on that step shows
  // its image rather than nothing.
  if (mapping() && update->ntimestep % nevery == 0) take_frame();
  left_fix_ = std::chrono::steady_clock::now();
  timing_ = true;
}

void FixFlowMap::end_of_step()
{
  if (timing_) times_.md += seconds_since(left_fix_);
  take_frame();
  left_fix_ = std::chrono::steady_clock::now();
  timing_ = true;
}

void FixFlowMap::take_frame()
{
  // A step is taken once: rerun calls setup() and end_of_step() on the same frame, and a run
  // starts on the step the previous one ended on.
  if (update->ntimestep == last_frame_step_) return;
  last_frame_step_ = update->ntimestep;
  const auto &frame = frame_->gather();
  if (mapping()) {
    // Batches end on multiples of peratom_freq, so a dump at those steps sees its own frame.
    const auto waiting = mapper_->add(frame, frame_->relabelling());
    if (update->ntimestep % peratom_freq == 0 || static_cast<int>(waiting) >= settings_.map_batch)
      map_buffered();
  } else {
    collect(frame);
  }
}

double FixFlowMap::own_energy(const std::vector<double> &frame)
{
  const auto &states = session_->states();
  double energy = 0.0;
  auto &bridge = settings_.forward ? *source_bridge_ : *target_bridge_;
  try {
    bridge.evaluate(frame.data(), 1,
                    (settings_.forward ? states.source_box : states.target_box).data(), &energy,
                    nullptr, false);
  } catch (FlowMapBridgeError &err) {
    error->one(FLERR, "Fix flowmap could not evaluate the frame of step {}: {}",
               update->ntimestep, err.what());
  }
  return energy;
}

void FixFlowMap::collect(const std::vector<double> &frame)
{
  const auto start = std::chrono::steady_clock::now();
  const double energy = own_energy(frame);
  times_.energy += seconds_since(start);
  track_decorrelation({energy});
  training_->add_frame(frame, energy);
}

void FixFlowMap::track_decorrelation(const std::vector<double> &energies)
{
  if (!decorrelation_.add(energies) || decorrelation_.inefficiency() <= 2.0) return;
  if (warned_correlated_ || comm->me != 0) return;
  warned_correlated_ = true;
  error->warning(FLERR, "Fix flowmap: the {} energy decorrelates over about {:.0f} steps, "
                 "longer than Nevery = {}: successive frames are correlated",
                 settings_.forward ? "source" : "target", decorrelation_.inefficiency() * nevery,
                 nevery);
}

/* ---------------------------------------------------------------------- */

const std::vector<FlowMapWeighedFrame> &FixFlowMap::weighed_frames()
{
  static const std::vector<FlowMapWeighedFrame> none;
  if (!mapper_) return none;
  map_buffered();
  return mapper_->frames();
}

void FixFlowMap::map_buffered()
{
  const auto start = std::chrono::steady_clock::now();
  const auto count = mapper_->flush(mapped_);
  const auto &frames = mapper_->frames();
  std::vector<double> energies;
  for (auto f = frames.end() - count; f != frames.end(); ++f) energies.push_back(f->energy_from);
  track_decorrelation(energies);
  times_.network += seconds_since(start);
}

void FixFlowMap::post_run()
{
  if (!session_) return;
  // A partial batch is mapped at the end of the run; compute ress sees it at its next
  // invocation.
  map_buffered();
  if (!mapping() && session_->trainer().steps() > 0) {
    training_->report();
    if (decorrelation_.size() > 0 && comm->me == 0)
      utils::logmesg(lmp, "fix flowmap: {} frames collected; source energy statistical "
                     "inefficiency {:.2f} frames ({:.0f} steps)\n", training_->frames(),
                     decorrelation_.inefficiency(), decorrelation_.inefficiency() * nevery);
    training_->save();
  }
  timing_ = false;
}

/* ---------------------------------------------------------------------- */

double FixFlowMap::compute_vector(int i)
{
  const bool have = session_ != nullptr;
  const flowmap::Trainer *trainer = have ? &session_->trainer() : nullptr;
  const FlowMapWeighedFrame *last =
      mapper_ && !mapper_->frames().empty() ? &mapper_->frames().back() : nullptr;
  switch (i) {
    case STEPS: return have ? trainer->steps() : 0.0;
    case LOSS: return have ? training_->loss(0) : 0.0;
    case LOSS_KLD: return have ? training_->loss(1) : 0.0;
    case LOSS_NLL: return have ? training_->loss(2) : 0.0;
    case LEARNING_RATE: return have ? trainer->learning_rate() : 0.0;
    case SKIPPED: return have ? trainer->skipped() : 0.0;
    case RESS_FORWARD: return have ? training_->ress(0) : 0.0;
    case RESS_FORWARD_IDENTITY: return have ? training_->ress(1) : 0.0;
    case RESS_INVERSE: return have ? training_->ress(2) : 0.0;
    case RESS_INVERSE_IDENTITY: return have ? training_->ress(3) : 0.0;
    case POOL_SOURCE: return have ? session_->pool(Ensemble::source).size() : 0.0;
    case POOL_TARGET: return have ? session_->pool(Ensemble::target).size() : 0.0;
    case FRAMES: return have ? training_->frames() : 0.0;
    case TIME_MD: return times_.md;
    case TIME_ENERGY: return times_.energy;
    case TIME_NETWORK: return times_.network;
    case TIME_COMM: return times_.reduce;
    case LOG_WEIGHT: return last ? last->log_weight : 0.0;
    case LOG_WEIGHT_IDENTITY: return last ? last->log_weight_identity : 0.0;
    case ENERGY_MAPPED: return last ? last->energy_to : 0.0;
    case DECORRELATION: return decorrelation_.inefficiency() * nevery;
    case KL_GAIN_FORWARD: return have ? training_->kl_gain(0) : 0.0;
    case KL_GAIN_INVERSE: return have ? training_->kl_gain(1) : 0.0;
    case LOSS_REWEIGHTED: return have ? training_->loss(3) : 0.0;
    case BATCH_ESS: return have ? training_->batch_ess() : 0.0;
    default: return 0.0;
  }
}

int FixFlowMap::modify_param(int narg, char **arg)
{
  if (strcmp(arg[0], "steps") == 0) {
    // e.g. 0 to fill the pools before training, then the rate to train at
    if (narg < 2) error->all(FLERR, "fix_modify steps needs a number of optimizer steps per frame");
    const double rate = utils::numeric(FLERR, arg[1], false, lmp);
    if (!(rate >= 0.0)) error->all(FLERR, "fix_modify steps must be >= 0, got {}", arg[1]);
    check_steps_per_frame(lmp, rate, "fix_modify steps");
    settings_.steps_per_frame = rate;
    return 2;
  }
  if (const int used = parse_loss_weight(lmp, narg, arg, settings_)) {
    // e.g. the reweighted term switched on once KLD has trained; the optimizer carries on
    const auto &t = settings_.session.training;
    if (session_) {
      try {
        session_->set_loss_weights(t.weight_kld, t.weight_nll, t.weight_reweighted,
                                   t.reweight_power);
      } catch (std::invalid_argument &err) {
        error->all(FLERR, "fix_modify {}: {}", arg[0], err.what());
      }
      training_->check_file_frames();
    }
    if (comm->me == 0)
      utils::logmesg(lmp, "fix flowmap: loss weights from step {} on: kld {} nll {} reweighted "
                     "{} (alpha {})\n", session_ ? session_->trainer().steps() : 0, t.weight_kld,
                     t.weight_nll, t.weight_reweighted, t.reweight_power);
    return used;
  }
  if (strcmp(arg[0], "mode") != 0) return 0;
  if (narg < 2) error->all(FLERR, "fix_modify mode needs train or map");
  // Checked on a copy: a refused switch leaves the mode as it was.
  FlowMapSettings changed = settings_;
  if (strcmp(arg[1], "train") == 0) changed.mode = Mode::train;
  else if (strcmp(arg[1], "map") == 0) changed.mode = Mode::map;
  else error->all(FLERR, "fix_modify mode must be train or map, got {}", arg[1]);
  if (changed.mode == Mode::train) check_loss_weights(lmp, changed, "fix_modify mode train");
  if (changed.mode == Mode::map && !session_ && settings_.load.empty())
    error->all(FLERR, "fix_modify mode map needs a trained model: train first or use keyword load");
  settings_.mode = changed.mode;
  peratom_freq = mapping() ? nevery * settings_.map_batch : nevery;
  // A flow trained by this fix maps with its averaged parameters, as it was validated.
  if (training_) training_->use_average(mapping());
  return 2;
}

/* ----------------------------------------------------------------------
   restart: the whole training state (model, optimizer, generator, pools) as one checkpoint
------------------------------------------------------------------------- */

void FixFlowMap::write_restart(FILE *fp)
{
  if (comm->me != 0 || !session_) return;
  torch::serialize::OutputArchive archive;
  training_->write_checkpoint(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  const std::string data = bytes.str();
  const std::uint64_t length = data.size();
  const int size = static_cast<int>(sizeof(length) + data.size());
  fwrite(&size, sizeof(int), 1, fp);
  fwrite(&length, sizeof(length), 1, fp);
  fwrite(data.data(), 1, data.size(), fp);
}

void FixFlowMap::restart(char *buf)
{
  std::uint64_t length = 0;
  memcpy(&length, buf, sizeof(length));
  restart_bytes_.assign(buf + sizeof(length), length);
}

/* ---------------------------------------------------------------------- */

void FixFlowMap::grow_arrays(int nmax)
{
  memory->grow(mapped_, nmax, 3, "flowmap:mapped");
  array_atom = mapped_;
}

void FixFlowMap::copy_arrays(int i, int j, int)
{
  for (int k = 0; k < 3; ++k) mapped_[j][k] = mapped_[i][k];
}

double FixFlowMap::memory_usage()
{
  double bytes = 3.0 * atom->nmax * sizeof(double);
  if (session_) {
    bytes += flowmap::pool_bytes(session_->options(), frame_->natoms(), frame_->dimension());
    for (const auto &p : session_->model().flow()->parameters())
      bytes += 3.0 * p.numel() * p.element_size();    // parameters and two Adam moments
  }
  if (mapper_) bytes += mapper_->frames().size() * sizeof(FlowMapWeighedFrame);
  return bytes;
}
