/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the species of a system's particles, and what the flow derives from them.

   The Boltzmann distribution of a mixture is symmetric under permutations within a species
   only, so the flow must know which particle is which species and never treat two species
   as interchangeable. Species holds the LAMMPS type of every atom in atom-ID order and
   derives:
   - the type map: species k is the k-th smallest LAMMPS type present;
   - the reference species, the most numerous (ties: the smallest type), and its atoms. The
     reference particle of the internal coordinates is always one of them, and mapping
     (no augmentation) uses the first, the one with the lowest atom ID;
   - the grouped order: atoms sorted by species, by atom ID within a species. The flow works
     on configurations in this order, so removing any reference atom leaves the same species
     at every row of the flow's input: the conditioner can be given the species of each row
     as a fixed one-hot feature, and the particle split can halve every species.
   With a single species all of this reduces to what a type-blind flow does: the grouped
   order is the atom order, every atom may be the reference, mapping uses atom ID 1, and
   the flow gets no species feature. An empty Species (model files written before species
   were recorded) is such a single species of any size.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_SPECIES_H
#define FLOWMAP_SPECIES_H

#include <cstdint>
#include <string>
#include <vector>

namespace flowmap {

// The species of the N - 1 rows of the flow's input (internal coordinates in grouped order,
// the reference particle removed) and the number of species. count 1: type-blind.
struct InternalSpecies {
  std::vector<std::int64_t> of_row;    // empty when count == 1
  std::int64_t count = 1;
};

class Species {
 public:
  Species() = default;
  // types: LAMMPS type (>= 1) of each atom in atom-ID order; std::invalid_argument otherwise.
  explicit Species(std::vector<std::int64_t> types);
  // From run-length pairs [type, atoms, type, atoms, ...] in atom-ID order (runs()).
  static Species from_runs(const std::vector<std::int64_t> &runs);

  bool recorded() const { return !types_.empty(); }
  std::int64_t num_atoms() const { return static_cast<std::int64_t>(types_.size()); }
  const std::vector<std::int64_t> &types() const { return types_; }
  std::int64_t num_species() const { return type_map_.empty() ? 1 : static_cast<std::int64_t>(type_map_.size()); }
  // LAMMPS type of species k, ascending.
  const std::vector<std::int64_t> &type_map() const { return type_map_; }
  std::int64_t reference_species() const { return reference_species_; }
  // Atom indices (0-based, atom-ID order) the reference particle may be, ascending: all n
  // atoms of a single species (n: the system's size, for an unrecorded Species).
  std::vector<std::int64_t> reference_atoms(std::int64_t n) const;
  // Atom index of each row of the grouped order; empty for a single species (identity).
  std::vector<std::int64_t> grouped_order() const;
  InternalSpecies internal() const;

  // Swap moves (fix atom/swap) and dumps of swap runs give configurations whose atoms have
  // other types than the ones recorded here, with the same count of each type. Exchanging the
  // labels of two atoms of one species leaves the Boltzmann weight unchanged, so such a
  // configuration is the recorded system relabelled: the k-th atom of type t (by atom ID)
  // becomes the k-th atom of type t here. Returns, for each atom index here, the index of the
  // atom it is in `current` (identity when the types agree); std::invalid_argument naming
  // both compositions when the counts per type differ.
  std::vector<std::int64_t> relabelling(const std::vector<std::int64_t> &current) const;

  // [type, atoms, type, atoms, ...], consecutive atoms of one type merged, atom-ID order.
  std::vector<std::int64_t> runs() const;
  // For messages: "43 atoms: 26 of type 1, 10 of type 2, 7 of type 3; in atom-ID order
  // 1 (IDs 1-26), 2 (IDs 27-36), 3 (IDs 37-43)". Long orders are cut after a few runs.
  std::string describe() const;

  bool operator==(const Species &other) const { return types_ == other.types_; }
  bool operator!=(const Species &other) const { return !(*this == other); }

 private:
  std::vector<std::int64_t> types_;
  std::vector<std::int64_t> type_map_;
  std::int64_t reference_species_ = 0;

  std::int64_t species_of(std::int64_t type) const;
};

// Positions [N d] (atom-ID order) rearranged by a relabelling: atom i takes the coordinates of
// atom source[i].
std::vector<double> relabel(const std::vector<double> &positions,
                            const std::vector<std::int64_t> &source, int dimension);

// Empty when a flow recorded with `model` may map configurations of `system`; otherwise the
// reason, naming both compositions. A model without recorded species (written before they
// were) matches any system of its size: it is type-blind.
std::string species_mismatch(const Species &model, const Species &system);

}    // namespace flowmap

#endif
