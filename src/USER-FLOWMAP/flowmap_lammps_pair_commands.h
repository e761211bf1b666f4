/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the quoted pair commands of fix flowmap and compute ress.

   The styles take Hamiltonians as quoted LAMMPS pair commands, e.g.
     target "pair_style lj/cut 2.5" "pair_coeff * * 1.0 1.0"
   LAMMPS does not substitute variables inside quotes, and the energy bridge's private
   instances have no variables: the host's variables ($x, ${name}, $(expression)) are
   substituted here, with their values when the command is read.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_LAMMPS_PAIR_COMMANDS_H
#define FLOWMAP_LAMMPS_PAIR_COMMANDS_H

#include <string>
#include <vector>

namespace LAMMPS_NS {

// Whether a word is a pair command (starts with the word pair_style, pair_coeff or
// pair_modify).
bool is_pair_command(const char *word);

// The consecutive pair commands at arg[0], arg[1], ... (up to narg), with the host's variables
// substituted (LAMMPS's own error for an undefined one).
std::vector<std::string> pair_commands_at(class LAMMPS *lmp, int narg, char **arg);

}    // namespace LAMMPS_NS

#endif
