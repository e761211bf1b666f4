/* ----------------------------------------------------------------------
   USER-FLOWMAP: fix flowmap's keyword table and settings (see fix_flowmap_settings.h).
------------------------------------------------------------------------- */

#include "fix_flowmap_settings.h"

#include "comm.h"
#include "error.h"

#include "flowmap_lammps_compat.h"
#include "flowmap_lammps_pair_commands.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

using namespace LAMMPS_NS;
using Settings = FlowMapSettings;
using Args = FlowMapKeywordArgs;

namespace {

// Levenshtein distance, for the keyword a misspelt word was probably meant to be.
std::size_t edit_distance(const std::string &a, const std::string &b)
{
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::vector<FlowMapKeyword> make_table()
{
  std::vector<FlowMapKeyword> table = {
      {"source", 0, [](Args &a, Settings &s) { s.pair_commands[0] = a.pair_commands(); }, "", ""},
      {"target", 0, [](Args &a, Settings &s) { s.pair_commands[1] = a.pair_commands(); }, "", ""},
      {"density", 1, [](Args &a, Settings &s) { s.density[1] = a.positive_real(); }, "",
       "density and sourcedensity = the simulated density"},
      {"sourcedensity", 1, [](Args &a, Settings &s) { s.density[0] = a.positive_real(); }, "",
       "density and sourcedensity = the simulated density"},
      {"direction", 1,
       [](Args &a, Settings &s) {
         s.forward = a.choice({"forward", "inverse"}, "forward (the simulation samples the "
                              "source) or inverse (it samples the target)") == "forward";
       },
       "forward", ""},
      {"mode", 1,
       [](Args &a, Settings &s) {
         s.mode = a.choice({"train", "map"}) == "map" ? Settings::Mode::map : Settings::Mode::train;
       },
       "train", ""},
      {"load", 1, [](Args &a, Settings &s) { s.load = a.word(); }, "",
       "no load, save or checkpoint"},
      {"save", 1, [](Args &a, Settings &s) { s.save = a.word(); }, "",
       "no load, save or checkpoint"},
      {"checkpoint", 2,
       [](Args &a, Settings &s) {
         s.checkpoint_every = a.positive_int();
         s.checkpoint_file = a.word();
       },
       "", "no load, save or checkpoint"},
      {"resume", 1, [](Args &a, Settings &s) { s.resume = a.yes_no(); }, "yes", ""},
      {"arch", 1,
       [](Args &a, Settings &s) {
         s.flow.arch = a.choice(flowmap::FlowOptions::preset_names());
       },
       "default", ""},
      {"split", 1,
       [](Args &a, Settings &s) { s.flow.split = a.choice({"component", "particle"}); }, "",
       "split = the preset's"},
  };
  for (const auto &size : flowmap::FlowOptions::sizes()) {
    const std::string name = size.name;
    const int minimum = static_cast<int>(size.minimum);
    table.push_back({name, 1,
                     [name, minimum](Args &a, Settings &s) {
                       s.flow.sizes.emplace_back(name, a.int_at_least(minimum));
                     },
                     "", ""});
  }
  const std::vector<FlowMapKeyword> rest = {
      {"precision", 1,
       [](Args &a, Settings &s) { s.flow.precision = a.choice({"float32", "float64"}); },
       "float32", ""},
      {"device", 1,
       [](Args &a, Settings &s) {
         const std::string name = a.word();
         try {
           flowmap::device_from_name(name);
         } catch (const std::invalid_argument &e) {
           a.instance()->error->all(FLERR, "Fix flowmap device: {}", e.what());
         }
         s.flow.device = name;
       },
       "cpu", ""},
      {"batch", 1, [](Args &a, Settings &s) { s.session.training.batch_size = a.positive_int(); },
       "128", ""},
      {"lr", 1, [](Args &a, Settings &s) { s.session.training.learning_rate = a.positive_real(); },
       "1e-3", ""},
      {"warmup", 1,
       [](Args &a, Settings &s) {
         s.session.training.warmup_steps = static_cast<std::int64_t>(a.non_negative_real());
       },
       "50", ""},
      {"decay", 2,
       [](Args &a, Settings &s) {
         const std::string factor = a.word(), every = a.word();
         auto &training = s.session.training;
         training.decay_factor = utils::numeric(FLERR, factor.c_str(), false, a.instance());
         training.decay_every = utils::inumeric(FLERR, every.c_str(), false, a.instance());
         if (!(training.decay_factor > 0.0 && training.decay_factor <= 1.0) ||
             training.decay_every <= 0)
           a.instance()->error->all(FLERR, "Fix flowmap decay needs a factor in (0, 1] and a "
                                    "positive number of steps, got {} {}", factor, every);
       },
       "", "no decay"},
      {"average", 1,
       [](Args &a, Settings &s) {
         const double decay = a.non_negative_real();
         if (decay >= 1.0)
           a.instance()->error->all(FLERR, "Fix flowmap average must be a decay in [0, 1), got {}",
                               decay);
         s.session.training.average = decay;
       },
       "0.99", ""},
      {"clip", 1,
       [](Args &a, Settings &s) { s.session.training.clip_norm = a.non_negative_real(); }, "10",
       ""},
      {"kld", 1,
       [](Args &a, Settings &s) {
         s.session.training.weight_kld = a.non_negative_real();
         s.kld_set = true;
       },
       "", "kld and nll = 1 when frames of their state exist"},
      {"nll", 1,
       [](Args &a, Settings &s) {
         s.session.training.weight_nll = a.non_negative_real();
         s.nll_set = true;
       },
       "", "kld and nll = 1 when frames of their state exist"},
      {"reweighted", 2,
       [](Args &a, Settings &s) {
         auto &training = s.session.training;
         training.weight_reweighted = a.non_negative_real();
         const std::string power = a.word();
         training.reweight_power = utils::numeric(FLERR, power.c_str(), false, a.instance());
         if (!(training.reweight_power > 0.0 && training.reweight_power <= 1.0))
           a.instance()->error->all(FLERR, "Fix flowmap reweighted needs a weight >= 0 and a "
                                    "power alpha in (0, 1], got power {}", power);
       },
       "", "reweighted = 0 (off)"},
      {"frames", 0,
       [](Args &a, Settings &s) {
         s.frame_files = a.words_until_keyword("one or more dump files of the other ensemble");
         a.readable_files(s.frame_files);
       },
       "", ""},
      {"pool", 1, [](Args &a, Settings &s) { s.session.pool_capacity = a.positive_int(); }, "20000",
       ""},
      {"holdout", 1, [](Args &a, Settings &s) { s.session.holdout_capacity = a.positive_int(); },
       "1000", ""},
      {"steps", 1,
       [](Args &a, Settings &s) {
         s.steps_per_frame = a.non_negative_real();
         check_steps_per_frame(a.instance(), s.steps_per_frame, "steps");
       },
       "0.05", ""},
      {"validate", 1, [](Args &a, Settings &s) { s.validate_every = a.positive_int(); }, "100", ""},
      {"print", 1, [](Args &a, Settings &s) { s.print_every = a.positive_int(); }, "50", ""},
      {"core", 1, [](Args &a, Settings &s) { s.core = a.non_negative_real(); }, "",
       "core = 0.8 sigma of each pair of types (0.8 in lj units where the pair style reports no "
       "sigma)"},
      {"augment", 1, [](Args &a, Settings &s) { s.session.training.augment = a.yes_no(); }, "yes",
       ""},
      {"seed", 1,
       [](Args &a, Settings &s) {
         s.session.training.seed = static_cast<std::uint64_t>(a.positive_int());
       },
       "12345", ""},
      {"threads", 1, [](Args &a, Settings &s) { s.threads = a.positive_int(); }, "",
       "threads = LAMMPS's OpenMP threads per rank"},
      {"mapbatch", 1, [](Args &a, Settings &s) { s.map_batch = a.positive_int(); }, "64", ""},
      {"cache", 1, [](Args &a, Settings &s) { s.tensor_cache = a.yes_no(); }, "yes", ""},
  };
  table.insert(table.end(), rest.begin(), rest.end());
  for (auto &k : table)
    if (k.doc_default.empty() && !k.default_value.empty())
      k.doc_default = k.name + " = " + k.default_value;
  return table;
}

const FlowMapKeyword *find_keyword(const std::string &name)
{
  for (const auto &k : flowmap_keywords())
    if (k.name == name) return &k;
  return nullptr;
}

}    // namespace

const std::vector<FlowMapKeyword> &LAMMPS_NS::flowmap_keywords()
{
  static const std::vector<FlowMapKeyword> table = make_table();
  return table;
}

std::string LAMMPS_NS::closest_flowmap_keyword(const std::string &word)
{
  std::string best;
  std::size_t distance = 3;    // at most two edits away
  for (const auto &k : flowmap_keywords()) {
    const auto d = edit_distance(word, k.name);
    if (d < distance) {
      distance = d;
      best = k.name;
    }
  }
  return best;
}

void LAMMPS_NS::check_steps_per_frame(LAMMPS *lmp, double steps, const std::string &where)
{
  // Each optimizer step costs about a batch of energies and a network pass (tens of ms to
  // seconds): beyond a few thousand per frame the first frame alone would run for hours.
  constexpr double kMaxSteps = 10000.0, kWarnSteps = 100.0;
  if (steps > kMaxSteps)
    lmp->error->all(FLERR, "Fix flowmap {}: {:.0f} optimizer steps per frame are more than "
                    "{:.0f} (each step takes a batch of energies and a network pass); typical "
                    "values are 0.01 to 10", where, steps, kMaxSteps);
  if (steps > kWarnSteps && lmp->comm->me == 0)
    lmp->error->warning(FLERR, "Fix flowmap {}: every frame adds {:.0f} optimizer steps, which "
                        "may take minutes per frame; typical values are 0.01 to 10", where,
                        steps);
}

/* ---------------------------------------------------------------------- */

FlowMapKeywordArgs::FlowMapKeywordArgs(LAMMPS *lmp, int narg, char **arg, int first,
                                       const std::string &keyword) :
    Pointers(lmp), narg_(narg), arg_(arg), iarg_(first), keyword_(keyword)
{
}

bool FlowMapKeywordArgs::next_keyword()
{
  if (iarg_ >= narg_) return false;
  keyword_ = arg_[iarg_++];
  return true;
}

const char *FlowMapKeywordArgs::value_text()
{
  if (iarg_ >= narg_) error->all(FLERR, "Fix flowmap keyword {} needs a value", keyword_);
  return arg_[iarg_++];
}

const char *FlowMapKeywordArgs::word()
{
  return value_text();
}

int FlowMapKeywordArgs::positive_int()
{
  const char *text = value_text();
  const int v = utils::inumeric(FLERR, text, false, lmp);
  if (v <= 0)
    error->all(FLERR, "Fix flowmap {} must be a positive integer, got {}", keyword_, text);
  return v;
}

int FlowMapKeywordArgs::int_at_least(int minimum)
{
  if (minimum == 1) return positive_int();
  const char *text = value_text();
  const int v = utils::inumeric(FLERR, text, false, lmp);
  if (v < minimum)
    error->all(FLERR, "Fix flowmap {} must be an integer >= {}, got {}", keyword_, minimum, text);
  return v;
}

double FlowMapKeywordArgs::real()
{
  const char *text = value_text();
  const double v = utils::numeric(FLERR, text, false, lmp);
  // strtod reads 1e999 as infinity
  if (!std::isfinite(v))
    error->all(FLERR, "Fix flowmap {} must be a finite number, got {}", keyword_, text);
  return v;
}

double FlowMapKeywordArgs::positive_real()
{
  const double v = real();
  if (!(v > 0.0))
    error->all(FLERR, "Fix flowmap {} must be > 0, got {}", keyword_, arg_[iarg_ - 1]);
  return v;
}

double FlowMapKeywordArgs::non_negative_real()
{
  const double v = real();
  if (v < 0.0) error->all(FLERR, "Fix flowmap {} must be >= 0, got {}", keyword_, arg_[iarg_ - 1]);
  return v;
}

bool FlowMapKeywordArgs::yes_no()
{
  return choice({"yes", "no"}) == "yes";
}

std::string FlowMapKeywordArgs::choice(const std::vector<std::string> &choices,
                                       const std::string &meaning)
{
  const std::string value = value_text();
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) return value;
  if (!meaning.empty())
    error->all(FLERR, "Fix flowmap {} must be {}, got {}", keyword_, meaning, value);
  if (choices.size() == 2)
    error->all(FLERR, "Fix flowmap {} must be {} or {}, got {}", keyword_, choices[0],
               choices[1], value);
  error->all(FLERR, "Fix flowmap {} {} is unknown; choose one of: {}", keyword_, value,
             flowmap_compat::join(choices, ", "));
  return value;
}

std::vector<std::string> FlowMapKeywordArgs::words_until_keyword(const std::string &what)
{
  std::vector<std::string> words;
  while (iarg_ < narg_ && !find_keyword(arg_[iarg_])) words.emplace_back(arg_[iarg_++]);
  if (words.empty()) error->all(FLERR, "Fix flowmap {} needs {}", keyword_, what);
  return words;
}

void FlowMapKeywordArgs::readable_files(const std::vector<std::string> &files)
{
  for (const auto &file : files) {
    int readable = 0;
    if (comm->me == 0) {
      FILE *fp = fopen(file.c_str(), "r");
      readable = fp != nullptr;
      if (fp) fclose(fp);
    }
    MPI_Bcast(&readable, 1, MPI_INT, 0, world);
    if (readable) continue;
    // "frames a.dump sead 5": the misspelt keyword would be read as a file name.
    const std::string meant = closest_flowmap_keyword(file);
    if (!meant.empty())
      error->all(FLERR, "Fix flowmap {}: '{}' is neither a readable file nor a fix flowmap "
                 "keyword (did you mean {}?)", keyword_, file, meant);
    error->all(FLERR, "Fix flowmap {}: cannot read dump file '{}'", keyword_, file);
  }
}

std::vector<std::string> FlowMapKeywordArgs::pair_commands()
{
  auto commands = pair_commands_at(lmp, narg_ - iarg_, arg_ + iarg_);
  if (commands.empty())
    error->all(FLERR, "Fix flowmap {} needs one or more quoted pair commands, e.g. {} "
               "\"pair_style lj/cut 2.5\" \"pair_coeff * * 1.0 1.0\"", keyword_, keyword_);
  iarg_ += static_cast<int>(commands.size());
  return commands;
}

/* ---------------------------------------------------------------------- */

void LAMMPS_NS::check_loss_weights(LAMMPS *lmp, const FlowMapSettings &s, const std::string &who)
{
  const auto &training = s.session.training;
  if (training.weight_kld > 0.0 && !has_source_frames(s))
    lmp->error->all(FLERR, "{} kld {} needs source frames: run the fix in a source simulation "
                    "or give source dump files with keyword frames", who, training.weight_kld);
  if (training.weight_nll > 0.0 && !has_target_frames(s))
    lmp->error->all(FLERR, "{} nll {} needs target frames: give dump files of a target run "
                    "with keyword frames", who, training.weight_nll);
  if (training.weight_reweighted > 0.0 && !has_source_frames(s))
    lmp->error->all(FLERR, "{} reweighted {} needs source frames: run the fix in a source "
                    "simulation or give source dump files with keyword frames", who,
                    training.weight_reweighted);
  if (s.mode == Settings::Mode::train && training.weight_kld == 0.0 &&
      training.weight_nll == 0.0 && training.weight_reweighted == 0.0)
    lmp->error->all(FLERR, "{} needs kld, nll or reweighted > 0 to train", who);
}

int LAMMPS_NS::parse_loss_weight(LAMMPS *lmp, int narg, char **arg, FlowMapSettings &s)
{
  const std::string name = arg[0];
  if (name != "kld" && name != "nll" && name != "reweighted") return 0;
  const FlowMapKeyword *k = find_keyword(name);
  if (narg - 1 < k->values)
    lmp->error->all(FLERR, "fix_modify {} needs {} value(s)", name, k->values);
  // parsed into a copy: a refused change leaves the weights as they were
  FlowMapSettings changed = s;
  Args args(lmp, narg, arg, 1, name);
  k->parse(args, changed);
  check_loss_weights(lmp, changed, "fix_modify");
  s = changed;
  return 1 + k->values;
}

FlowMapSettings LAMMPS_NS::parse_flowmap_settings(LAMMPS *lmp, int narg, char **arg)
{
  Error *error = lmp->error;
  Settings s;
  for (const auto &k : flowmap_keywords()) {
    if (k.default_value.empty()) continue;
    std::vector<std::string> words;
    std::istringstream in(k.default_value);
    for (std::string w; in >> w;) words.push_back(w);
    std::vector<char *> argv;
    for (auto &w : words) argv.push_back(&w[0]);
    Args defaults(lmp, static_cast<int>(argv.size()), argv.data(), 0, k.name);
    k.parse(defaults, s);
  }

  s.temperature[0] = utils::numeric(FLERR, arg[4], false, lmp);
  s.temperature[1] = utils::numeric(FLERR, arg[5], false, lmp);
  // strtod reads 1e999 as infinity
  for (double t : s.temperature)
    if (!(t > 0.0 && std::isfinite(t)))
      error->all(FLERR, "Fix flowmap temperatures must be > 0 and finite, got Tsource = {} and "
                 "Ttarget = {}", arg[4], arg[5]);

  Args args(lmp, narg, arg, 6);
  while (args.next_keyword()) {
    const FlowMapKeyword *k = find_keyword(args.keyword());
    if (!k) {
      const std::string meant = closest_flowmap_keyword(args.keyword());
      error->all(FLERR, "Unknown fix flowmap keyword {}{}; see doc/fix_flowmap.rst for the "
                 "keywords", args.keyword(),
                 meant.empty() ? std::string() : " (did you mean " + meant + "?)");
    }
    if (narg - args.position() < k->values)
      error->all(FLERR, "Fix flowmap keyword {} needs {} value(s)", k->name, k->values);
    k->parse(args, s);
  }

  auto &training = s.session.training;
  if (s.pair_commands[0].empty() || s.pair_commands[1].empty())
    error->all(FLERR, "Fix flowmap needs both the source and the target Hamiltonian as pair "
               "commands (keywords source and target)");
  if (s.mode == Settings::Mode::map && s.load.empty())
    error->all(FLERR, "Fix flowmap mode map needs a trained model (keyword load)");

  // A loss term is on by default when frames of its ensemble will exist.
  if (!s.kld_set) training.weight_kld = has_source_frames(s) ? 1.0 : 0.0;
  if (!s.nll_set) training.weight_nll = has_target_frames(s) ? 1.0 : 0.0;
  check_loss_weights(lmp, s, "Fix flowmap");
  // Training waits for a batch in the pool: a smaller pool never trains and never saves.
  if (s.session.pool_capacity < training.batch_size)
    error->all(FLERR, "Fix flowmap pool {} is smaller than batch {}: training starts once a "
               "pool holds a batch, so it would never start", s.session.pool_capacity,
               training.batch_size);
  return s;
}
