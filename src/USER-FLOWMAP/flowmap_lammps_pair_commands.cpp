/* ----------------------------------------------------------------------
   USER-FLOWMAP: the quoted pair commands (see flowmap_lammps_pair_commands.h).
------------------------------------------------------------------------- */

#include "flowmap_lammps_pair_commands.h"

#include <cctype>
#include <cstring>

using namespace LAMMPS_NS;

bool LAMMPS_NS::is_pair_command(const char *word)
{
  for (const char *command : {"pair_style", "pair_coeff", "pair_modify"}) {
    const std::size_t n = std::strlen(command);
    if (std::strncmp(word, command, n) == 0 && (word[n] == '\0' || std::isspace(word[n])))
      return true;
  }
  return false;
}

std::vector<std::string> LAMMPS_NS::pair_commands_at(int narg, char **arg)
{
  std::vector<std::string> commands;
  for (int i = 0; i < narg && is_pair_command(arg[i]); ++i) commands.emplace_back(arg[i]);
  return commands;
}
