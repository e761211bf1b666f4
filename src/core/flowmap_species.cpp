/* ----------------------------------------------------------------------
   USER-FLOWMAP: species of the particles.
------------------------------------------------------------------------- */

#include "flowmap_species.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace flowmap {

namespace {

// Runs shown in a description; a system with more (types interleaved) gets "...".
constexpr std::size_t kRunsShown = 6;

}    // namespace

Species::Species(std::vector<std::int64_t> types) : types_(std::move(types))
{
  for (std::size_t i = 0; i < types_.size(); ++i)
    if (types_[i] < 1)
      throw std::invalid_argument("species: atom ID " + std::to_string(i + 1) + " has type " +
                                  std::to_string(types_[i]) + "; LAMMPS types start at 1");
  type_map_ = types_;
  std::sort(type_map_.begin(), type_map_.end());
  type_map_.erase(std::unique(type_map_.begin(), type_map_.end()), type_map_.end());
  std::vector<std::int64_t> counts(type_map_.size(), 0);
  for (const auto t : types_) ++counts[species_of(t)];
  // max_element returns the first maximum: ties go to the smallest type.
  reference_species_ = std::max_element(counts.begin(), counts.end()) - counts.begin();
}

Species Species::from_runs(const std::vector<std::int64_t> &runs)
{
  if (runs.size() % 2 != 0)
    throw std::invalid_argument("species: type runs must be pairs of type and atom count");
  std::vector<std::int64_t> types;
  for (std::size_t r = 0; r < runs.size(); r += 2) {
    if (runs[r + 1] < 1)
      throw std::invalid_argument("species: a run of type " + std::to_string(runs[r]) + " has " +
                                  std::to_string(runs[r + 1]) + " atoms");
    types.insert(types.end(), runs[r + 1], runs[r]);
  }
  return Species(std::move(types));
}

std::int64_t Species::species_of(std::int64_t type) const
{
  return std::lower_bound(type_map_.begin(), type_map_.end(), type) - type_map_.begin();
}

std::vector<std::int64_t> Species::reference_atoms(std::int64_t n) const
{
  std::vector<std::int64_t> atoms;
  if (num_species() == 1) {
    for (std::int64_t i = 0; i < n; ++i) atoms.push_back(i);
    return atoms;
  }
  const auto type = type_map_[reference_species_];
  for (std::int64_t i = 0; i < num_atoms(); ++i)
    if (types_[i] == type) atoms.push_back(i);
  return atoms;
}

std::vector<std::int64_t> Species::grouped_order() const
{
  if (num_species() == 1) return {};
  std::vector<std::int64_t> order;
  for (const auto type : type_map_)
    for (std::int64_t i = 0; i < num_atoms(); ++i)
      if (types_[i] == type) order.push_back(i);
  return order;
}

InternalSpecies Species::internal() const
{
  InternalSpecies internal;
  internal.count = num_species();
  if (internal.count == 1) return internal;
  // Grouped order minus one atom of the reference species: which one does not matter.
  bool removed = false;
  for (const auto i : grouped_order()) {
    const auto s = species_of(types_[i]);
    if (s == reference_species_ && !removed) {
      removed = true;
      continue;
    }
    internal.of_row.push_back(s);
  }
  return internal;
}

std::vector<std::int64_t> Species::relabelling(const std::vector<std::int64_t> &current) const
{
  const Species other(current);
  std::vector<std::int64_t> source(types_.size());
  bool counts_agree = other.num_atoms() == num_atoms() && other.type_map_ == type_map_;
  for (std::size_t s = 0; counts_agree && s < type_map_.size(); ++s) {
    const auto t = type_map_[s];
    counts_agree = std::count(types_.begin(), types_.end(), t) ==
        std::count(current.begin(), current.end(), t);
  }
  if (!counts_agree)
    throw std::invalid_argument("the atoms have other types than recorded: " + describe() +
                                ", now " + other.describe() +
                                "; only exchanges of types between atoms keep the system");
  // k-th atom of type t here <- k-th atom of type t in current, for every t at once
  std::vector<std::size_t> next(type_map_.size(), 0);
  std::vector<std::vector<std::int64_t>> of_type(type_map_.size());
  for (std::int64_t i = 0; i < other.num_atoms(); ++i)
    of_type[species_of(current[i])].push_back(i);
  for (std::int64_t i = 0; i < num_atoms(); ++i) {
    const auto s = species_of(types_[i]);
    source[i] = of_type[s][next[s]++];
  }
  return source;
}

std::vector<double> relabel(const std::vector<double> &positions,
                            const std::vector<std::int64_t> &source, int dimension)
{
  std::vector<double> out(positions.size());
  for (std::size_t i = 0; i < source.size(); ++i)
    std::copy_n(&positions[source[i] * dimension], dimension, &out[i * dimension]);
  return out;
}

std::vector<std::int64_t> Species::runs() const
{
  std::vector<std::int64_t> runs;
  for (const auto t : types_) {
    if (!runs.empty() && runs[runs.size() - 2] == t) {
      ++runs.back();
    } else {
      runs.push_back(t);
      runs.push_back(1);
    }
  }
  return runs;
}

std::string Species::describe() const
{
  if (!recorded()) return "species not recorded (type-blind)";
  std::ostringstream s;
  s << num_atoms() << " atoms:";
  for (std::size_t k = 0; k < type_map_.size(); ++k)
    s << (k ? ", " : " ")
      << std::count(types_.begin(), types_.end(), type_map_[k]) << " of type " << type_map_[k];
  const auto r = runs();
  s << "; in atom-ID order";
  std::int64_t first = 1;
  for (std::size_t k = 0; k < r.size(); k += 2) {
    if (k / 2 == kRunsShown) {
      s << ", ... (" << r.size() / 2 << " runs)";
      break;
    }
    const auto last = first + r[k + 1] - 1;
    s << (k ? ", " : " ") << r[k] << " (IDs " << first;
    if (last > first) s << "-" << last;
    s << ")";
    first = last + 1;
  }
  return s.str();
}

std::string species_mismatch(const Species &model, const Species &system)
{
  if (!model.recorded() || model == system) return "";
  std::string why = "the model was trained for " + model.describe() + "; this system has " +
      system.describe();
  if (model.num_atoms() == system.num_atoms()) {
    const auto &a = model.types(), &b = system.types();
    const auto at = std::mismatch(a.begin(), a.end(), b.begin()).first - a.begin();
    why += " (first difference at atom ID " + std::to_string(at + 1) + ": type " +
        std::to_string(a[at]) + " in the model, " + std::to_string(b[at]) + " here)";
  }
  return why;
}

}    // namespace flowmap
