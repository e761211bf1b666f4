/* ----------------------------------------------------------------------
   USER-FLOWMAP: fix flowmap
------------------------------------------------------------------------- */

#include "fix_flowmap.h"

#include "flowmap_autocorrelation.h"
#include "flowmap_blas_check.h"
#include "flowmap_dump_reader.h"
#include "flowmap_lammps_bridge.h"
#include "flowmap_lammps_compat.h"
#include "flowmap_lammps_frame.h"
#include "flowmap_mapping.h"
#include "flowmap_model_file.h"
#include "flowmap_session.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "universe.h"
#include "update.h"

#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <sstream>

using namespace LAMMPS_NS;
using namespace FixConst;
using flowmap::Ensemble;

namespace {

// Global vector, in the order documented in doc/fix_flowmap.rst.
enum Output {
  STEPS, LOSS, LOSS_KLD, LOSS_NLL, LEARNING_RATE, SKIPPED, RESS_FORWARD, RESS_FORWARD_IDENTITY,
  RESS_INVERSE, RESS_INVERSE_IDENTITY, POOL_SOURCE, POOL_TARGET, FRAMES, TIME_MD, TIME_ENERGY,
  TIME_NETWORK, TIME_COMM, LOG_WEIGHT, LOG_WEIGHT_IDENTITY, ENERGY_MAPPED, DECORRELATION,
  KL_GAIN_FORWARD, KL_GAIN_INVERSE, NUM_OUTPUTS
};

const char *const kKeywords[] = {
    "source", "target", "density", "sourcedensity", "mode", "direction", "load", "save",
    "checkpoint", "arch", "blocks", "bins", "frequencies", "embedding", "heads", "layers",
    "feedforward", "precision", "batch", "lr", "decay", "kld", "nll", "frames", "pool",
    "holdout", "steps", "validate", "clip", "core", "augment", "seed", "threads", "print",
    "resume", "mapbatch", "warmup", "average", "split"};

bool is_keyword(const char *word)
{
  for (const char *k : kKeywords)
    if (std::strcmp(word, k) == 0) return true;
  return false;
}

// LAMMPS's own OpenMP threads per rank (OMP_NUM_THREADS or -pk omp, 1 if neither is set). More
// ranks rather than more threads: for system I 2 ranks x 1 thread trained 2.2x faster than
// 1 rank x 2 threads (bench/README.md), whose threads mostly wait on each other.
int default_threads(LAMMPS *lmp)
{
  return std::max(1, lmp->comm->nthreads);
}

// Rank 0's failure message (empty: success) on every rank of comm.
void broadcast_failure(std::string &message, MPI_Comm comm)
{
  int length = static_cast<int>(message.size());
  MPI_Bcast(&length, 1, MPI_INT, 0, comm);
  message.resize(length);
  if (length > 0) MPI_Bcast(&message[0], length, MPI_CHAR, 0, comm);
}

double seconds_since(std::chrono::steady_clock::time_point t)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}    // namespace

struct FixFlowMap::Settings {
  double temperature[2] = {0.0, 0.0};    // source, target
  std::vector<std::string> pair_commands[2];
  double density[2] = {0.0, 0.0};        // 0: the simulated density
  bool forward = true;                   // the simulation samples the source ensemble
  std::string load, save, checkpoint_file;
  int checkpoint_every = 0;
  std::string arch = "default";
  std::vector<std::pair<std::string, int>> arch_overrides;
  std::string precision = "float32";
  std::string split;    // empty: the preset's
  flowmap::SessionOptions session;
  bool kld_set = false, nll_set = false;
  std::vector<std::string> frame_files;
  double steps_per_frame = 0.05;
  int validate_every = 100;
  int print_every = 50;
  double core = -1.0;                    // < 0: the units' default
  int threads = 0;                       // 0: LAMMPS's OpenMP threads per rank
  bool resume = true;
  int map_batch = 64;                    // frames mapped together in map mode
};

/* ---------------------------------------------------------------------- */

FixFlowMap::FixFlowMap(LAMMPS *lmp, int narg, char **arg) :
    Fix(lmp, narg, arg), settings_(new Settings), mode_(Mode::train)
{
  if (narg < 6) error->all(FLERR, "Illegal fix flowmap command: expected fix ID group flowmap "
                           "Nevery Tsource Ttarget keyword value ...");
  nevery = utils::inumeric(FLERR, arg[3], false, lmp);
  if (nevery <= 0) error->all(FLERR, "Fix flowmap Nevery must be > 0, got {}", arg[3]);
  parse(narg, arg);

  vector_flag = 1;
  size_vector = NUM_OUTPUTS;
  global_freq = nevery;
  extvector = 0;
  restart_global = 1;
  peratom_flag = 1;
  size_peratom_cols = 3;
  // In map mode frames are mapped mapbatch at a time; the per-atom output holds the frame of
  // the step on which a batch completes, so LAMMPS refuses dumps at other steps.
  peratom_freq = mode_ == Mode::map ? nevery * settings_->map_batch : nevery;

  grow_arrays(atom->nmax);
  atom->add_callback(Atom::GROW);
  for (int i = 0; i < atom->nlocal; ++i) mapped_[i][0] = mapped_[i][1] = mapped_[i][2] = 0.0;
}

FixFlowMap::~FixFlowMap()
{
  atom->delete_callback(id, Atom::GROW);
  memory->destroy(mapped_);
}

void FixFlowMap::parse(int narg, char **arg)
{
  auto &s = *settings_;
  s.temperature[0] = utils::numeric(FLERR, arg[4], false, lmp);
  s.temperature[1] = utils::numeric(FLERR, arg[5], false, lmp);
  if (s.temperature[0] <= 0.0 || s.temperature[1] <= 0.0)
    error->all(FLERR, "Fix flowmap temperatures must be > 0, got Tsource = {} and Ttarget = {}",
               arg[4], arg[5]);

  auto need = [&](int iarg, int count) {
    if (iarg + count >= narg)
      error->all(FLERR, "Fix flowmap keyword {} needs {} value(s)", arg[iarg], count);
  };
  auto positive_int = [&](int iarg) {
    need(iarg, 1);
    const int v = utils::inumeric(FLERR, arg[iarg + 1], false, lmp);
    if (v <= 0) error->all(FLERR, "Fix flowmap {} must be a positive integer, got {}", arg[iarg],
                           arg[iarg + 1]);
    return v;
  };
  auto non_negative = [&](int iarg) {
    need(iarg, 1);
    const double v = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
    if (v < 0.0) error->all(FLERR, "Fix flowmap {} must be >= 0, got {}", arg[iarg], arg[iarg + 1]);
    return v;
  };
  auto yes_no = [&](int iarg) {
    need(iarg, 1);
    if (strcmp(arg[iarg + 1], "yes") == 0) return true;
    if (strcmp(arg[iarg + 1], "no") == 0) return false;
    error->all(FLERR, "Fix flowmap {} expects yes or no, got {}", arg[iarg], arg[iarg + 1]);
    return false;
  };

  // The defaults of fix flowmap (doc/fix_flowmap.rst), measured on system I on a 2-core CPU
  // (bench/README.md): small batches and many steps, a warm-up so that Adam's first steps do
  // not throw the identity start off, and an average over about 100 steps of the iterates.
  auto &training = s.session.training;
  training.batch_size = 128;
  training.learning_rate = 1e-3;
  training.warmup_steps = 50;
  training.average = 0.99;
  int iarg = 6;
  while (iarg < narg) {
    const std::string key = arg[iarg];
    if (key == "source" || key == "target") {
      auto &commands = s.pair_commands[key == "source" ? 0 : 1];
      commands.clear();
      int j = iarg + 1;
      while (j < narg && strncmp(arg[j], "pair_", 5) == 0) commands.emplace_back(arg[j++]);
      if (commands.empty())
        error->all(FLERR, "Fix flowmap {} needs one or more quoted pair commands, e.g. {} "
                   "\"pair_style lj/cut 2.5\" \"pair_coeff * * 1.0 1.0\"", key, key);
      iarg = j;
      continue;
    } else if (key == "density" || key == "sourcedensity") {
      need(iarg, 1);
      const double rho = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (rho <= 0.0) error->all(FLERR, "Fix flowmap {} must be > 0, got {}", key, arg[iarg + 1]);
      s.density[key == "density" ? 1 : 0] = rho;
    } else if (key == "mode") {
      need(iarg, 1);
      if (strcmp(arg[iarg + 1], "train") == 0) mode_ = Mode::train;
      else if (strcmp(arg[iarg + 1], "map") == 0) mode_ = Mode::map;
      else error->all(FLERR, "Fix flowmap mode must be train or map, got {}", arg[iarg + 1]);
    } else if (key == "direction") {
      need(iarg, 1);
      if (strcmp(arg[iarg + 1], "forward") == 0) s.forward = true;
      else if (strcmp(arg[iarg + 1], "inverse") == 0) s.forward = false;
      else error->all(FLERR, "Fix flowmap direction must be forward (the simulation samples the "
                      "source) or inverse (it samples the target), got {}", arg[iarg + 1]);
    } else if (key == "load" || key == "save") {
      need(iarg, 1);
      (key == "load" ? s.load : s.save) = arg[iarg + 1];
    } else if (key == "checkpoint") {
      need(iarg, 2);
      s.checkpoint_every = positive_int(iarg);
      s.checkpoint_file = arg[iarg + 2];
      iarg += 3;
      continue;
    } else if (key == "arch") {
      need(iarg, 1);
      s.arch = arg[iarg + 1];
      const auto names = flowmap::FlowOptions::preset_names();
      if (std::find(names.begin(), names.end(), s.arch) == names.end())
        error->all(FLERR, "Fix flowmap arch {} is unknown; choose one of: {}", s.arch,
                   flowmap_compat::join(names, ", "));
    } else if (key == "blocks" || key == "bins" || key == "frequencies" || key == "embedding" ||
               key == "heads" || key == "layers" || key == "feedforward") {
      s.arch_overrides.emplace_back(key, positive_int(iarg));
    } else if (key == "split") {
      need(iarg, 1);
      s.split = arg[iarg + 1];
      if (s.split != "component" && s.split != "particle")
        error->all(FLERR, "Fix flowmap split must be component or particle, got {}", s.split);
    } else if (key == "precision") {
      need(iarg, 1);
      s.precision = arg[iarg + 1];
      if (s.precision != "float32" && s.precision != "float64")
        error->all(FLERR, "Fix flowmap precision must be float32 or float64, got {}",
                   s.precision);
    } else if (key == "batch") {
      training.batch_size = positive_int(iarg);
    } else if (key == "lr") {
      need(iarg, 1);
      training.learning_rate = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (training.learning_rate <= 0.0)
        error->all(FLERR, "Fix flowmap lr must be > 0, got {}", arg[iarg + 1]);
    } else if (key == "decay") {
      need(iarg, 2);
      training.decay_factor = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      training.decay_every = utils::inumeric(FLERR, arg[iarg + 2], false, lmp);
      if (training.decay_factor <= 0.0 || training.decay_factor > 1.0 || training.decay_every <= 0)
        error->all(FLERR, "Fix flowmap decay needs a factor in (0, 1] and a positive number of "
                   "steps, got {} {}", arg[iarg + 1], arg[iarg + 2]);
      iarg += 3;
      continue;
    } else if (key == "kld" || key == "nll") {
      (key == "kld" ? training.weight_kld : training.weight_nll) = non_negative(iarg);
      (key == "kld" ? s.kld_set : s.nll_set) = true;
    } else if (key == "frames") {
      s.frame_files.clear();
      int j = iarg + 1;
      while (j < narg && !is_keyword(arg[j])) s.frame_files.emplace_back(arg[j++]);
      if (s.frame_files.empty())
        error->all(FLERR, "Fix flowmap frames needs one or more dump files of the other ensemble");
      iarg = j;
      continue;
    } else if (key == "pool") {
      s.session.pool_capacity = positive_int(iarg);
    } else if (key == "holdout") {
      s.session.holdout_capacity = positive_int(iarg);
    } else if (key == "steps") {
      s.steps_per_frame = non_negative(iarg);
    } else if (key == "validate") {
      s.validate_every = positive_int(iarg);
    } else if (key == "clip") {
      training.clip_norm = non_negative(iarg);
    } else if (key == "core") {
      s.core = non_negative(iarg);
    } else if (key == "augment") {
      training.augment = yes_no(iarg);
    } else if (key == "seed") {
      training.seed = positive_int(iarg);
    } else if (key == "threads") {
      s.threads = positive_int(iarg);
    } else if (key == "print") {
      s.print_every = positive_int(iarg);
    } else if (key == "resume") {
      s.resume = yes_no(iarg);
    } else if (key == "mapbatch") {
      s.map_batch = positive_int(iarg);
    } else if (key == "warmup") {
      training.warmup_steps = static_cast<std::int64_t>(non_negative(iarg));
    } else if (key == "average") {
      training.average = non_negative(iarg);
      if (training.average >= 1.0)
        error->all(FLERR, "Fix flowmap average must be a decay in [0, 1), got {}", arg[iarg + 1]);
    } else {
      error->all(FLERR, "Unknown fix flowmap keyword {}; see doc/fix_flowmap.rst for the "
                 "keywords", key);
    }
    iarg += 2;
  }

  if (s.pair_commands[0].empty() || s.pair_commands[1].empty())
    error->all(FLERR, "Fix flowmap needs both the source and the target Hamiltonian as pair "
               "commands (keywords source and target)");
  if (mode_ == Mode::map && s.load.empty())
    error->all(FLERR, "Fix flowmap mode map needs a trained model (keyword load)");

  // A loss term is on by default when frames of its ensemble will exist.
  const bool have_source_frames = s.forward || !s.frame_files.empty();
  const bool have_target_frames = !s.forward || !s.frame_files.empty();
  if (!s.kld_set) training.weight_kld = have_source_frames ? 1.0 : 0.0;
  if (!s.nll_set) training.weight_nll = have_target_frames ? 1.0 : 0.0;
  if (training.weight_kld > 0.0 && !have_source_frames)
    error->all(FLERR, "Fix flowmap kld {} needs source frames: run the fix in a source "
               "simulation or give source dump files with keyword frames", training.weight_kld);
  if (training.weight_nll > 0.0 && !have_target_frames)
    error->all(FLERR, "Fix flowmap nll {} needs target frames: give dump files of a target "
               "run with keyword frames", training.weight_nll);
  if (mode_ == Mode::train && training.weight_kld == 0.0 && training.weight_nll == 0.0)
    error->all(FLERR, "Fix flowmap needs kld or nll > 0 to train");
}

int FixFlowMap::setmask()
{
  return END_OF_STEP;
}

/* ---------------------------------------------------------------------- */

void FixFlowMap::init()
{
  // rerun calls init() before every frame: build once, afterwards only re-check the system.
  if (!built_) {
    build();
    built_ = true;
  } else {
    frame_->check_system(igroup);
  }
}

void FixFlowMap::build()
{
  auto &s = *settings_;
  frame_ = std::make_unique<FlowMapFrame>(lmp, "fix flowmap");
  frame_->check_system(igroup);
  const int d = frame_->dimension();
  const int n = frame_->natoms();

  // The simulation fixes the box of the ensemble it samples; the other box follows from its
  // density (isotropic scaling), or from the model when one is loaded.
  const int own = s.forward ? 0 : 1;
  const double volume = [&] {
    double v = 1.0;
    for (double l : frame_->box_lengths()) v *= l;
    return v;
  }();
  const double own_density = n / volume;
  if (s.density[own] > 0.0 && std::fabs(s.density[own] - own_density) > 1e-6 * own_density)
    error->all(FLERR, "Fix flowmap {} {} differs from the simulated {} density {}",
               own == 0 ? "sourcedensity" : "density", s.density[own],
               own == 0 ? "source" : "target", own_density);
  std::vector<double> boxes[2];
  for (int e = 0; e < 2; ++e) {
    const double rho = s.density[e] > 0.0 ? s.density[e] : own_density;
    const double scale = std::pow(own_density / rho, 1.0 / d);
    for (double l : frame_->box_lengths()) boxes[e].push_back(l * scale);
  }

  // Keyword core sets one radius for every pair of types; without it each pair gets 0.8 of its
  // own sigma where the pair style reports sigma, else 0.8 in lj units (none in others).
  const double core = s.core >= 0.0 ? s.core : (strcmp(update->unit_style, "lj") == 0 ? 0.8 : 0.0);
  for (int e = 0; e < 2; ++e) {
    FlowMapBridgeSetup setup;
    setup.units = update->unit_style;
    setup.dimension = d;
    setup.types = frame_->types();
    setup.ntypes = atom->ntypes;
    setup.box_lengths = boxes[e];
    setup.pair_commands = s.pair_commands[e];
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

  const int threads = s.threads > 0 ? s.threads : default_threads(lmp);
  torch::set_num_threads(threads);
  // OpenBLAS keeps its own pool (one thread per core): left alone, its threads and LibTorch's
  // compete for the same cores, which made a training step 2x slower here.
  flowmap::set_blas_threads(threads);
  if (comm->me == 0) {
    const auto blas = flowmap::check_blas();
    utils::logmesg(lmp, "fix flowmap: {} torch threads per rank; {}\n", torch::get_num_threads(),
                   blas.summary);
    if (blas.slow)
      error->warning(FLERR, "Fix flowmap: matrix products are slow ({}); install OpenBLAS "
                     "(libopenblas0-openmp) for a 10x faster flow", blas.summary);
    if (blas.avx512_kernels)
      error->warning(FLERR, "Fix flowmap: OpenBLAS uses its {} (AVX-512) kernels, whose float64 "
                     "gradients were wrong in USER-FLOWMAP's tests with OpenBLAS 0.3.21; set "
                     "OPENBLAS_CORETYPE=Haswell in the environment of lmp", blas.core);
  }

  if (!s.save.empty()) {
    // Found out now rather than after an hour of training.
    std::string reason;
    if (comm->me == 0) {
      const std::string probe = s.save + ".writable";
      FILE *fp = fopen(probe.c_str(), "w");
      if (fp) {
        fclose(fp);
        remove(probe.c_str());
      } else {
        reason = utils::getsyserror();
      }
    }
    broadcast_failure(reason, world);
    if (!reason.empty())
      error->all(FLERR, "Fix flowmap cannot write its model file {}: {}", s.save, reason);
  }

  // Model: a read_restart state, a model or checkpoint file, or a new identity flow.
  flowmap::StatePair states;
  states.num_particles = n;
  states.dimension = d;
  states.source_box = boxes[0];
  states.target_box = boxes[1];
  states.beta_source = 1.0 / (force->boltz * s.temperature[0]);
  states.beta_target = 1.0 / (force->boltz * s.temperature[1]);
  // The flow is equivariant under permutations within a species only; see flowmap_species.h.
  const auto &species = frame_->species();
  const bool from_restart = !restart_bytes_.empty();
  const bool from_file = !from_restart && !s.load.empty();
  const std::string origin = from_restart ? "the restart file" : "model file '" + s.load + "'";
  auto reducer = [this](double *data, std::int64_t count) {
    MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_DOUBLE, MPI_SUM,
                  universe->uworld);
  };
  try {
    if (!from_restart && !from_file) {
      auto options = flowmap::FlowOptions::preset(s.arch, n, d);
      for (const auto &o : s.arch_overrides) {
        if (o.first == "blocks") options.blocks = o.second;
        else if (o.first == "bins") options.bins = o.second;
        else if (o.first == "frequencies") options.frequencies = o.second;
        else if (o.first == "embedding") options.embedding = o.second;
        else if (o.first == "heads") options.heads = o.second;
        else if (o.first == "layers") options.layers = o.second;
        else if (o.first == "feedforward") options.feedforward = o.second;
      }
      options.dtype = flowmap::dtype_from_name(s.precision);
      if (!s.split.empty()) options.split = flowmap::split_from_name(s.split);
      options.validate();
      flowmap::ModelMetadata meta;
      meta.units = update->unit_style;
      meta.source_box = boxes[0];
      meta.target_box = boxes[1];
      meta.source_temperature = s.temperature[0];
      meta.target_temperature = s.temperature[1];
      // Seed the parameters' random initialisation identically on every rank and partition.
      torch::manual_seed(s.session.training.seed);
      session_ = std::make_unique<flowmap::Session>(flowmap::FlowModel(options, meta, species),
                                                    *source_bridge_, *target_bridge_, states,
                                                    s.session, universe->me, universe->nprocs,
                                                    reducer);
    } else {
      auto archive = from_restart ? flowmap::load_archive_bytes(restart_bytes_, origin)
                                  : flowmap::load_archive(s.load);
      const auto model = flowmap::read_model(archive, origin);
      flowmap::check_model_matches(model, n, d, boxes[0], boxes[1]);
      try {
        flowmap::check_model_species(model, species);
      } catch (flowmap::ModelFileError &err) {
        error->all(FLERR, "Fix flowmap: {} does not fit this system: {} (types exchanged "
                   "during this fix's runs are relabelled, but the system must start with the "
                   "model's types by atom ID)", origin, err.what());
      }
      if (!model.species().recorded() && species.num_species() > 1 && comm->me == 0)
        error->warning(FLERR, "Fix flowmap: {} records no atom types (written before USER-FLOWMAP "
                       "recorded them), so its flow is type-blind on this mixture ({}); the "
                       "weights stay exact, but it was not trained for this mixture", origin,
                       species.describe());
      const auto &meta = model.metadata();
      if (meta.units != update->unit_style)
        error->all(FLERR, "Fix flowmap: {} holds a model trained in units {}, this simulation "
                   "uses units {}", origin, meta.units, update->unit_style);
      if ((meta.source_temperature != s.temperature[0] ||
           meta.target_temperature != s.temperature[1]) && comm->me == 0)
        error->warning(FLERR, "Fix flowmap: the model was trained for Tsource = {}, Ttarget = "
                       "{}; weights use the temperatures of this fix ({}, {})",
                       meta.source_temperature, meta.target_temperature, s.temperature[0],
                       s.temperature[1]);
      session_ = std::make_unique<flowmap::Session>(model, *source_bridge_, *target_bridge_,
                                                    states, s.session, universe->me,
                                                    universe->nprocs, reducer);
      if (mode_ == Mode::train && (s.resume || from_restart)) {
        resumed_ = session_->read_training_state(archive);
        torch::Tensor fix_state;
        if (resumed_ && archive.try_read("fix_state", fix_state)) {
          steps_due_ = fix_state[0].item<double>();
          frames_collected_ = static_cast<std::int64_t>(fix_state[1].item<double>());
        }
      }
    }
    if (comm->me == 0)
      utils::logmesg(lmp, "fix flowmap: {} flow, {} ({} -> {} particles in {}D{}){}\n",
                     from_restart || from_file ? "loaded" : "new identity",
                     session_->model().options().describe(), n, n, d,
                     species.num_species() > 1 ? "; " + species.describe() : std::string(),
                     resumed_ ? fmt::format(", training resumed at step {}",
                                            session_->trainer().steps())
                              : "");
  } catch (flowmap::ModelFileError &err) {
    error->all(FLERR, "Fix flowmap: {}", err.what());
  } catch (std::invalid_argument &err) {
    error->all(FLERR, "Fix flowmap: {}", err.what());
  } catch (std::exception &err) {
    // LibTorch's own errors from a damaged training state.
    error->all(FLERR, "Fix flowmap could not read {}: {}", origin,
               utils::split_lines(err.what()).front());
  }
  restart_bytes_.clear();
  // A resumed session already holds the frames it was trained on.
  if (mode_ == Mode::train && !resumed_) load_frames();
}

void FixFlowMap::load_frames()
{
  auto &s = *settings_;
  if (s.frame_files.empty()) return;
  const auto ensemble = s.forward ? Ensemble::target : Ensemble::source;
  auto &bridge = s.forward ? *target_bridge_ : *source_bridge_;
  const auto &states = session_->states();
  const auto &box = s.forward ? states.target_box : states.source_box;
  const int n = frame_->natoms(), d = frame_->dimension();

  // A frame of a mixture must have the system's type at every atom ID, or the flow would learn
  // one species' positions as another's; frames of swap runs are relabelled (species.h).
  const auto &species = frame_->species();
  bool warned_untyped = false;
  auto relabelled = [&](const std::string &file, const flowmap::DumpFrame &frame) {
    if (frame.types.empty()) {
      if (species.num_species() > 1 && !warned_untyped && comm->me == 0)
        error->warning(FLERR, "Fix flowmap: dump file {} has no numeric type column; its atoms "
                       "are taken to have this system's types by atom ID", file);
      warned_untyped = true;
      return frame.positions;
    }
    if (frame.types == species.types()) return frame.positions;
    try {
      return flowmap::relabel(frame.positions, species.relabelling(frame.types), d);
    } catch (std::invalid_argument &err) {
      error->all(FLERR, "Fix flowmap: dump file {} (step {}): {}", file, frame.timestep,
                 err.what());
    }
    return frame.positions;
  };

  std::vector<double> positions;
  try {
    flowmap::DumpFrame frame;
    for (const auto &file : s.frame_files) {
      flowmap::DumpReader reader(file, d);
      while (reader.next(frame)) {
        if (static_cast<int>(frame.positions.size()) != n * d)
          error->all(FLERR, "Fix flowmap: dump file {} has frames of {} atoms, this system has {}",
                     file, frame.positions.size() / d, n);
        for (int k = 0; k < d; ++k) {
          const double length = frame.box_hi[k] - frame.box_lo[k];
          if (std::fabs(length - box[k]) > 1e-6 * box[k])
            error->all(FLERR, "Fix flowmap: dump file {} (step {}) has box length {} along "
                       "dimension {}, the {} ensemble's box is {}", file, frame.timestep, length,
                       k + 1, s.forward ? "target" : "source", box[k]);
        }
        const auto x = relabelled(file, frame);
        positions.insert(positions.end(), x.begin(), x.end());
      }
    }
  } catch (flowmap::DumpFormatError &err) {
    error->all(FLERR, "Fix flowmap: {}", err.what());
  }
  const std::int64_t count = positions.size() / (n * d);
  if (count == 0) error->all(FLERR, "Fix flowmap: the frames files hold no frames");
  std::vector<double> energies(count);
  try {
    bridge.evaluate_distributed(world, positions.data(), count, box.data(), energies.data(),
                                nullptr, false);
  } catch (FlowMapBridgeError &err) {
    error->all(FLERR, "Fix flowmap could not evaluate the frames of {}: {}",
               flowmap_compat::join(s.frame_files, " "), err.what());
  }
  for (std::int64_t f = 0; f < count; ++f)
    session_->add_frame(ensemble, &positions[f * n * d], energies[f]);
  if (comm->me == 0)
    utils::logmesg(lmp, "fix flowmap: {} {} frames read from {} file(s)\n", count,
                   s.forward ? "target" : "source", s.frame_files.size());
  // These frames are all this loss term will ever get: too few and training would wait
  // forever for its pool.
  const auto needed = session_->options().min_pool;
  const auto weight = s.forward ? s.session.training.weight_nll : s.session.training.weight_kld;
  if (weight > 0.0 && session_->pool(ensemble).size() < needed)
    error->all(FLERR, "Fix flowmap: the frames files hold {} frames; the hold-out set takes "
               "the first {} and training needs {} more (keywords holdout and batch)", count,
               session_->holdout(ensemble).size(), needed);
}

void FixFlowMap::setup(int)
{
  // In map mode the frame a run starts from is mapped too, so that a dump on that step shows
  // its image rather than nothing.
  if (mode_ == Mode::map && update->ntimestep % nevery == 0) take_frame();
  left_fix_ = std::chrono::steady_clock::now();
  timing_ = true;
}

double FixFlowMap::own_energy(const std::vector<double> &frame)
{
  const auto &states = session_->states();
  double energy = 0.0;
  auto &bridge = settings_->forward ? *source_bridge_ : *target_bridge_;
  try {
    bridge.evaluate(frame.data(), 1,
                    (settings_->forward ? states.source_box : states.target_box).data(),
                    &energy, nullptr, false);
  } catch (FlowMapBridgeError &err) {
    error->one(FLERR, "Fix flowmap could not evaluate the frame of step {}: {}",
               update->ntimestep, err.what());
  }
  return energy;
}

void FixFlowMap::end_of_step()
{
  if (timing_) time_md_ += seconds_since(left_fix_);
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
  if (mode_ == Mode::train) collect(frame);
  else buffer_frame(frame);
}

void FixFlowMap::collect(const std::vector<double> &frame)
{
  const auto start = std::chrono::steady_clock::now();
  const int per_frame = frame_->natoms() * frame_->dimension();
  std::vector<double> mine(frame);
  mine.push_back(own_energy(frame));
  time_energy_ += seconds_since(start);
  energy_series_.push_back(mine.back());

  // Independent walkers (partitions) feed one shared model: every process receives every
  // world's frame, in world order, so every process adds the same frames in the same order.
  const auto ensemble = settings_->forward ? Ensemble::source : Ensemble::target;
  if (universe->nworlds == 1) {
    session_->add_frame(ensemble, mine.data(), mine.back());
  } else {
    std::vector<double> all(static_cast<std::size_t>(universe->nprocs) * (per_frame + 1));
    MPI_Allgather(mine.data(), per_frame + 1, MPI_DOUBLE, all.data(), per_frame + 1, MPI_DOUBLE,
                  universe->uworld);
    for (int w = 0; w < universe->nworlds; ++w) {
      const double *f = &all[static_cast<std::size_t>(universe->root_proc[w]) * (per_frame + 1)];
      session_->add_frame(ensemble, f, f[per_frame]);
    }
  }
  frames_collected_ += universe->nworlds;
  steps_due_ += settings_->steps_per_frame * universe->nworlds;
  check_decorrelation();
  train_due_steps();
}

void FixFlowMap::train_due_steps()
{
  auto &s = *settings_;
  if (!session_->can_train()) {
    steps_due_ = 0.0;    // no burst of steps once the pool is ready
    return;
  }
  while (steps_due_ >= 1.0) {
    steps_due_ -= 1.0;
    flowmap::StepReport report;
    try {
      report = session_->train_step();
    } catch (std::exception &err) {
      // One rank's failure: the others may be waiting in the gradient reduction.
      error->one(FLERR, "Fix flowmap training step failed: {}", err.what());
    }
    time_energy_ += report.time_energy;
    time_network_ += report.time_network;
    time_reduce_ += report.time_reduce;
    if (!report.skipped) {
      last_loss_[0] = report.loss;
      last_loss_[1] = report.loss_kld;
      last_loss_[2] = report.loss_nll;
    }
    const auto steps = session_->trainer().steps();
    if (report.skipped) continue;
    if (steps % s.validate_every == 0) validate();
    if (steps % s.print_every == 0) log_progress();
    if (s.checkpoint_every > 0 && steps % s.checkpoint_every == 0) save();
  }
}

void FixFlowMap::validate()
{
  const auto start = std::chrono::steady_clock::now();
  flowmap::ValidationReport report;
  try {
    report = session_->validate();
  } catch (std::exception &err) {
    error->one(FLERR, "Fix flowmap validation failed: {}", err.what());
  }
  ress_[0] = report.ress_forward;
  ress_[1] = report.ress_forward_identity;
  ress_[2] = report.ress_inverse;
  ress_[3] = report.ress_inverse_identity;
  kl_gain_[0] = report.kl_gain_forward;
  kl_gain_[1] = report.kl_gain_inverse;
  time_network_ += seconds_since(start);
}

void FixFlowMap::log_progress()
{
  if (comm->me != 0) return;
  const auto &trainer = session_->trainer();
  auto ratio = [](double flow, double identity) {
    return identity > 0.0 ? fmt::format(" ({:.2f}x)", flow / identity) : std::string();
  };
  utils::logmesg(lmp,
                 "fix flowmap: step {} loss {:.6g} (kld {:.6g} nll {:.6g}) lr {:.3g} skipped {} | "
                 "RESS A->B {:.4g} id {:.4g}{} B->A {:.4g} id {:.4g}{} | KL gain {:.3f} {:.3f} | "
                 "pool {} + {} | time md {:.1f} energy {:.1f} net {:.1f} comm {:.1f} s\n",
                 trainer.steps(), last_loss_[0], last_loss_[1], last_loss_[2],
                 trainer.learning_rate(), trainer.skipped(), ress_[0], ress_[1],
                 ratio(ress_[0], ress_[1]), ress_[2], ress_[3], ratio(ress_[2], ress_[3]),
                 kl_gain_[0], kl_gain_[1],
                 session_->pool(Ensemble::source).size(), session_->pool(Ensemble::target).size(),
                 time_md_, time_energy_, time_network_, time_reduce_);
}

void FixFlowMap::check_decorrelation()
{
  // Re-estimated each time the series has doubled, from 512 frames on: cheap, and stable by
  // then (at 128 frames the estimate was twice the final one in the examples). Map mode adds
  // a batch of frames at a time, so the sizes are thresholds, not exact counts.
  if (energy_series_.size() < next_decorrelation_estimate_) return;
  while (next_decorrelation_estimate_ <= energy_series_.size()) next_decorrelation_estimate_ *= 2;
  inefficiency_ = flowmap::statistical_inefficiency(energy_series_);
  if (inefficiency_ > 2.0 && !warned_correlated_ && comm->me == 0) {
    warned_correlated_ = true;
    error->warning(FLERR, "Fix flowmap: the {} energy decorrelates over about {:.0f} steps, "
                   "longer than Nevery = {}: successive frames are correlated",
                   settings_->forward ? "source" : "target", inefficiency_ * nevery, nevery);
  }
}

void FixFlowMap::buffer_frame(const std::vector<double> &frame)
{
  map_buffer_.insert(map_buffer_.end(), frame.begin(), frame.end());
  map_steps_.push_back(update->ntimestep);
  // Batches end on multiples of peratom_freq, so a dump at those steps sees its own frame.
  if (update->ntimestep % peratom_freq == 0 ||
      static_cast<int>(map_steps_.size()) >= settings_->map_batch)
    map_buffered();
}

const std::vector<FlowMapWeighedFrame> &FixFlowMap::weighed_frames()
{
  if (session_) map_buffered();
  return weighed_;
}

void FixFlowMap::map_buffered()
{
  const auto count = static_cast<std::int64_t>(map_steps_.size());
  if (count == 0) return;
  const auto start = std::chrono::steady_clock::now();
  const int n = frame_->natoms(), d = frame_->dimension();
  const auto &states = session_->states();
  const bool forward = settings_->forward;
  const auto direction = forward ? flowmap::Direction::forward : flowmap::Direction::inverse;
  const auto &box_from = forward ? states.source_box : states.target_box;
  const auto &box_to = forward ? states.target_box : states.source_box;
  auto &bridge_from = forward ? *source_bridge_ : *target_bridge_;
  auto &bridge_to = forward ? *target_bridge_ : *source_bridge_;

  // Every rank holds every buffered frame; each maps and weighs a contiguous share and the
  // results are gathered, so mapping scales with the ranks like training does.
  const std::int64_t first = count * comm->me / comm->nprocs;
  const std::int64_t mine = count * (comm->me + 1) / comm->nprocs - first;
  constexpr int kValues = 5;    // energy_from, flow energy_to and log w, identity ones
  std::vector<double> local(mine * kValues);
  torch::Tensor mapped_last;
  std::string failure;
  if (mine > 0) {
    try {
      const double *x = map_buffer_.data() + first * n * d;
      std::vector<double> energy_from(mine);
      bridge_from.evaluate(x, mine, box_from.data(), energy_from.data(), nullptr, false);
      const auto positions =
          torch::from_blob(const_cast<double *>(x), {mine, n, d}, torch::kFloat64).clone();
      const auto flow = flowmap::map_and_weigh(&session_->model(), direction, states, positions,
                                               energy_from, bridge_to);
      const auto identity =
          flowmap::map_and_weigh(nullptr, direction, states, positions, energy_from, bridge_to);
      for (std::int64_t f = 0; f < mine; ++f) {
        double *v = &local[f * kValues];
        v[0] = energy_from[f];
        v[1] = flow.energy_to[f];
        v[2] = flow.log_weight[f];
        v[3] = identity.energy_to[f];
        v[4] = identity.log_weight[f];
      }
      if (first + mine == count) mapped_last = flow.positions[mine - 1].contiguous();
    } catch (std::exception &err) {
      failure = err.what();
    }
  }
  int failed = failure.empty() ? 0 : 1;
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, world);
  if (failed) {
    if (!failure.empty())
      error->one(FLERR, "Fix flowmap could not map the frames of steps {} to {}: {}",
                 map_steps_.front(), map_steps_.back(), failure);
    error->all(FLERR, "Fix flowmap could not map the frames of steps {} to {} (see the error "
               "of another rank)", map_steps_.front(), map_steps_.back());
  }

  std::vector<int> counts(comm->nprocs), offsets(comm->nprocs);
  for (int r = 0; r < comm->nprocs; ++r) {
    const std::int64_t lo = count * r / comm->nprocs, hi = count * (r + 1) / comm->nprocs;
    counts[r] = static_cast<int>((hi - lo) * kValues);
    offsets[r] = static_cast<int>(lo * kValues);
  }
  std::vector<double> all(count * kValues);
  MPI_Allgatherv(local.data(), static_cast<int>(local.size()), MPI_DOUBLE, all.data(),
                 counts.data(), offsets.data(), MPI_DOUBLE, world);
  for (std::int64_t f = 0; f < count; ++f) {
    const double *v = &all[f * kValues];
    weighed_.push_back({map_steps_[f], v[0], v[1], v[2], v[3], v[4]});
    energy_series_.push_back(v[0]);
  }
  check_decorrelation();

  // The per-atom output holds the last frame (the current one when a batch completes), wrapped
  // into the other box: the simulation box scaled about the coordinate origin. The last rank
  // mapped it. After type exchanges its rows are relabelled atoms: each goes back to its atom.
  std::vector<double> last(static_cast<std::size_t>(n) * d);
  if (mapped_last.defined()) std::copy_n(mapped_last.data_ptr<double>(), n * d, last.begin());
  MPI_Bcast(last.data(), n * d, MPI_DOUBLE, comm->nprocs - 1, world);
  const auto &source = frame_->relabelling();
  std::vector<std::int64_t> row_of_atom(source.size());
  for (std::size_t r = 0; r < source.size(); ++r) row_of_atom[source[r]] = r;
  for (int i = 0; i < atom->nlocal; ++i) {
    const std::int64_t atom_index = atom->tag[i] - 1;
    const auto row = source.empty() ? atom_index : row_of_atom[atom_index];
    const double *yi = &last[static_cast<std::size_t>(row) * d];
    for (int k = 0; k < 3; ++k) {
      if (k >= d) {
        mapped_[i][k] = atom->x[i][k];
        continue;
      }
      const double lo = domain->boxlo[k] * box_to[k] / box_from[k];
      mapped_[i][k] = lo + std::fmod(std::fmod(yi[k] - lo, box_to[k]) + box_to[k], box_to[k]);
    }
  }
  map_buffer_.clear();
  map_steps_.clear();
  time_network_ += seconds_since(start);
}

void FixFlowMap::post_run()
{
  if (!session_) return;
  // A partial batch is mapped at the end of the run; compute ress sees it at its next
  // invocation.
  map_buffered();
  if (mode_ == Mode::train && session_->trainer().steps() > 0) {
    validate();
    log_progress();
    if (!energy_series_.empty() && comm->me == 0)
      utils::logmesg(lmp, "fix flowmap: {} frames collected; source energy statistical "
                     "inefficiency {:.2f} frames ({:.0f} steps)\n", frames_collected_,
                     inefficiency_, inefficiency_ * nevery);
    save();
  }
  timing_ = false;
}

// The session's checkpoint plus the fix's own counters, so that a resumed run takes its
// optimizer steps at the same frames as an uninterrupted one.
void FixFlowMap::write_checkpoint(torch::serialize::OutputArchive &archive)
{
  // The checkpoint holds the live parameters and their average separately.
  if (averaged_in_) session_->trainer().swap_average();
  session_->write_checkpoint(archive);
  if (averaged_in_) session_->trainer().swap_average();
  archive.write("fix_state", torch::tensor({steps_due_, static_cast<double>(frames_collected_)},
                                           torch::kFloat64));
}

void FixFlowMap::save()
{
  auto &s = *settings_;
  // Every partition holds the same model: the first process of the universe writes it, and
  // a failure reaches every process so that none waits for the others.
  std::string failure;
  if (universe->me == 0) {
    try {
      if (!s.save.empty()) {
        // The model file holds what validation measured: the averaged parameters.
        std::unique_ptr<flowmap::AveragedParameters> averaged;
        if (!averaged_in_) averaged = std::make_unique<flowmap::AveragedParameters>(
            session_->trainer());
        flowmap::save_model(session_->model(), s.save);
      }
      if (!s.checkpoint_file.empty()) {
        torch::serialize::OutputArchive archive;
        write_checkpoint(archive);
        flowmap::save_archive(archive, s.checkpoint_file, "checkpoint");
      }
    } catch (std::exception &err) {
      failure = err.what();
    }
  }
  broadcast_failure(failure, universe->uworld);
  if (!failure.empty()) error->all(FLERR, "Fix flowmap could not save: {}", failure);
}

/* ---------------------------------------------------------------------- */

double FixFlowMap::compute_vector(int i)
{
  const bool have = session_ != nullptr;
  const flowmap::Trainer *trainer = have ? &session_->trainer() : nullptr;
  const FlowMapWeighedFrame *last = weighed_.empty() ? nullptr : &weighed_.back();
  switch (i) {
    case STEPS: return have ? trainer->steps() : 0.0;
    case LOSS: return last_loss_[0];
    case LOSS_KLD: return last_loss_[1];
    case LOSS_NLL: return last_loss_[2];
    case LEARNING_RATE: return have ? trainer->learning_rate() : 0.0;
    case SKIPPED: return have ? trainer->skipped() : 0.0;
    case RESS_FORWARD: return ress_[0];
    case RESS_FORWARD_IDENTITY: return ress_[1];
    case RESS_INVERSE: return ress_[2];
    case RESS_INVERSE_IDENTITY: return ress_[3];
    case POOL_SOURCE: return have ? session_->pool(Ensemble::source).size() : 0.0;
    case POOL_TARGET: return have ? session_->pool(Ensemble::target).size() : 0.0;
    case FRAMES: return frames_collected_;
    case TIME_MD: return time_md_;
    case TIME_ENERGY: return time_energy_;
    case TIME_NETWORK: return time_network_;
    case TIME_COMM: return time_reduce_;
    case LOG_WEIGHT: return last ? last->log_weight : 0.0;
    case LOG_WEIGHT_IDENTITY: return last ? last->log_weight_identity : 0.0;
    case ENERGY_MAPPED: return last ? last->energy_to : 0.0;
    case DECORRELATION: return inefficiency_ * nevery;
    case KL_GAIN_FORWARD: return kl_gain_[0];
    case KL_GAIN_INVERSE: return kl_gain_[1];
    default: return 0.0;
  }
}

int FixFlowMap::modify_param(int narg, char **arg)
{
  if (strcmp(arg[0], "steps") == 0) {
    // e.g. 0 to fill the pools before training, then the rate to train at
    if (narg < 2) error->all(FLERR, "fix_modify steps needs a number of optimizer steps per frame");
    const double rate = utils::numeric(FLERR, arg[1], false, lmp);
    if (rate < 0.0) error->all(FLERR, "fix_modify steps must be >= 0, got {}", arg[1]);
    settings_->steps_per_frame = rate;
    return 2;
  }
  if (strcmp(arg[0], "mode") != 0) return 0;
  if (narg < 2) error->all(FLERR, "fix_modify mode needs train or map");
  if (strcmp(arg[1], "train") == 0) mode_ = Mode::train;
  else if (strcmp(arg[1], "map") == 0) mode_ = Mode::map;
  else error->all(FLERR, "fix_modify mode must be train or map, got {}", arg[1]);
  peratom_freq = mode_ == Mode::map ? nevery * settings_->map_batch : nevery;
  // A flow trained by this fix maps with its averaged parameters, as it was validated.
  if (session_ && averaged_in_ != (mode_ == Mode::map)) {
    session_->trainer().swap_average();
    averaged_in_ = !averaged_in_;
  }
  if (mode_ == Mode::map && !session_ && settings_->load.empty())
    error->all(FLERR, "fix_modify mode map needs a trained model: train first or use keyword load");
  return 2;
}

/* ----------------------------------------------------------------------
   restart: the whole training state (model, optimizer, generator, pools) as one checkpoint
------------------------------------------------------------------------- */

void FixFlowMap::write_restart(FILE *fp)
{
  if (comm->me != 0 || !session_) return;
  torch::serialize::OutputArchive archive;
  write_checkpoint(archive);
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
    for (auto e : {Ensemble::source, Ensemble::target})
      bytes += (session_->pool(e).capacity() + session_->holdout(e).capacity()) *
          (frame_->natoms() * frame_->dimension() + 1) * sizeof(double);
    for (const auto &p : session_->model().flow()->parameters())
      bytes += 3.0 * p.numel() * p.element_size();    // parameters and two Adam moments
  }
  bytes += weighed_.size() * sizeof(FlowMapWeighedFrame);
  return bytes;
}
