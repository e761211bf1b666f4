/* ----------------------------------------------------------------------
   USER-FLOWMAP: the quoted pair commands (see flowmap_lammps_pair_commands.h).
------------------------------------------------------------------------- */

#include "flowmap_lammps_pair_commands.h"

#include "input.h"
#include "lammps.h"
#include "memory.h"

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

namespace {

std::string substituted(LAMMPS *lmp, const std::string &command)
{
  if (command.find('$') == std::string::npos) return command;
  // Input::substitute grows both buffers with Memory::srealloc.
  int max = static_cast<int>(command.size()) + 1, max2 = max;
  auto *str = static_cast<char *>(lmp->memory->smalloc(max, "flowmap:pair_command"));
  auto *str2 = static_cast<char *>(lmp->memory->smalloc(max2, "flowmap:pair_command"));
  std::strcpy(str, command.c_str());
  std::string result;
  try {
    lmp->input->substitute(str, str2, max, max2, 0);
    result = str;
  } catch (...) {
    lmp->memory->sfree(str);
    lmp->memory->sfree(str2);
    throw;
  }
  lmp->memory->sfree(str);
  lmp->memory->sfree(str2);
  return result;
}

}    // namespace

std::vector<std::string> LAMMPS_NS::pair_commands_at(LAMMPS *lmp, int narg, char **arg)
{
  std::vector<std::string> commands;
  for (int i = 0; i < narg && is_pair_command(arg[i]); ++i)
    commands.push_back(substituted(lmp, arg[i]));
  return commands;
}
