/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the settings of fix flowmap and the keyword table that defines them.

   Every keyword is one row of flowmap_keywords(): its name, how it is parsed, its default
   (set by parsing the default text like user input, so a default can never be a value the
   parser would refuse) and how the Default section of doc/fix_flowmap.rst states it; a test
   checks the page against the table. The network's size keywords are rows made from
   flowmap::FlowOptions::sizes().
------------------------------------------------------------------------- */

#ifndef LMP_FIX_FLOWMAP_SETTINGS_H
#define LMP_FIX_FLOWMAP_SETTINGS_H

#include "pointers.h"

#include "flowmap_session_factory.h"

#include <functional>
#include <string>
#include <vector>

namespace LAMMPS_NS {

struct FlowMapSettings {
  enum class Mode { train, map };
  double temperature[2] = {0.0, 0.0};    // source, target
  std::vector<std::string> pair_commands[2];
  double density[2] = {0.0, 0.0};        // 0: the simulated density
  bool forward = true;                   // the simulation samples the source ensemble
  Mode mode = Mode::train;
  std::string load, save, checkpoint_file;
  int checkpoint_every = 0;
  flowmap::FlowRecipe flow;
  flowmap::SessionOptions session;
  bool kld_set = false, nll_set = false;
  std::vector<std::string> frame_files;
  double steps_per_frame = 0.0;
  int validate_every = 0;
  int print_every = 0;
  double core = -1.0;                    // < 0: the units' default
  int threads = 0;                       // 0: LAMMPS's OpenMP threads per rank
  bool tensor_cache = true;              // LibTorch's CPU tensors through the caching allocator
  bool resume = true;
  int map_batch = 0;                     // frames mapped together in map mode
};

class FlowMapKeywordArgs;

struct FlowMapKeyword {
  std::string name;
  int values;    // how many values follow the keyword (0: one or more, up to the next keyword)
  // Parses the keyword's values (the keyword itself already consumed) into the settings.
  std::function<void(FlowMapKeywordArgs &, FlowMapSettings &)> parse;
  std::string default_value;    // parsed to set the default; empty: no parsed default
  std::string doc_default;      // as the Default section of doc/fix_flowmap.rst words it
};

// The table, in the order of doc/fix_flowmap.rst.
const std::vector<FlowMapKeyword> &flowmap_keywords();

// The keyword of the table at most two edits away from word, closest first; empty if none.
std::string closest_flowmap_keyword(const std::string &word);

// Refuses more than 1e4 optimizer steps per frame and warns above 100 (keyword steps,
// fix_modify steps; where names which).
void check_steps_per_frame(LAMMPS *lmp, double steps, const std::string &where);

// The settings of `fix ID group flowmap Nevery Tsource Ttarget keyword value ...` (narg and
// arg as the fix receives them), defaults from the table, every value and every combination
// checked with error->all. Collective.
FlowMapSettings parse_flowmap_settings(LAMMPS *lmp, int narg, char **arg);

// Whether the run will have frames of the source (target) ensemble for a loss term: those it
// samples, or dump files given with keyword frames.
inline bool has_source_frames(const FlowMapSettings &s)
{
  return s.forward || !s.frame_files.empty();
}
inline bool has_target_frames(const FlowMapSettings &s)
{
  return !s.forward || !s.frame_files.empty();
}

// Refuses loss weights the run cannot train with: a term without frames of its ensemble, or
// every weight 0 in train mode; who opens the message ("Fix flowmap", "fix_modify").
void check_loss_weights(LAMMPS *lmp, const FlowMapSettings &s, const std::string &who);

// fix_modify kld W, nll W or reweighted W alpha (arg[0] the keyword): parsed into s as the fix
// command parses it, then checked as a whole; returns the number of words used, 0 if arg[0]
// is none of the three.
int parse_loss_weight(LAMMPS *lmp, int narg, char **arg, FlowMapSettings &s);

// The values of one keyword, read with LAMMPS's parsers; every refusal is an error->all that
// names the keyword and what it expects.
class FlowMapKeywordArgs : protected Pointers {
 public:
  // arg[first] is the first keyword (or, with keyword given, the first value of it).
  FlowMapKeywordArgs(LAMMPS *lmp, int narg, char **arg, int first,
                     const std::string &keyword = "");
  LAMMPS *instance() const { return lmp; }

  const std::string &keyword() const { return keyword_; }
  // Reads the keyword at the current position; false at the end of the arguments.
  bool next_keyword();
  int position() const { return iarg_; }

  const char *word();                                 // one value, any text
  int positive_int();
  int int_at_least(int minimum);
  double real();
  double positive_real();
  double non_negative_real();
  bool yes_no();
  std::string choice(const std::vector<std::string> &choices, const std::string &meaning = "");
  // Every following word up to the next keyword of the table (at least one).
  std::vector<std::string> words_until_keyword(const std::string &what);
  // Refuses a file rank 0 cannot open for reading, naming the keyword it was probably meant
  // to be when it is close to one (collective).
  void readable_files(const std::vector<std::string> &files);
  // The following quoted pair commands (at least one).
  std::vector<std::string> pair_commands();

 private:
  int narg_;
  char **arg_;
  int iarg_;
  std::string keyword_;

  const char *value_text();
};

}    // namespace LAMMPS_NS

#endif
