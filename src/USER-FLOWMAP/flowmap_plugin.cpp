/* ----------------------------------------------------------------------
   USER-FLOWMAP plugin entry point: registers the package's styles with a running LAMMPS
   (`plugin load flowmapplugin.so`). The same style files also build in-tree, where the
   FixStyle/ComputeStyle blocks in their headers register them instead.
------------------------------------------------------------------------- */

#include "lammpsplugin.h"
#include "version.h"

#include "compute_ress.h"
#include "fix_flowmap.h"
#include "flowmap_version.h"
#include "fix_flowmap_exchange.h"

using namespace LAMMPS_NS;

static Compute *ress_creator(LAMMPS *lmp, int argc, char **argv)
{
  return new ComputeRESS(lmp, argc, argv);
}

static Fix *flowmap_creator(LAMMPS *lmp, int argc, char **argv)
{
  return new FixFlowMap(lmp, argc, argv);
}

static Fix *flowmap_exchange_creator(LAMMPS *lmp, int argc, char **argv)
{
  return new FixFlowMapExchange(lmp, argc, argv);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  lammpsplugin_t plugin;
  plugin.version = LAMMPS_VERSION;
  plugin.author = "USER-FLOWMAP developers";
  plugin.handle = handle;

  plugin.style = "compute";
  plugin.name = "ress";
  plugin.info = "compute ress: importance weights, RESS and free energies " FLOWMAP_VERSION;
  plugin.creator.v2 = (lammpsplugin_factory2 *) &ress_creator;
  (*register_plugin)(&plugin, lmp);

  plugin.style = "fix";
  plugin.name = "flowmap";
  plugin.info = "fix flowmap: train and apply a normalizing flow between two ensembles " FLOWMAP_VERSION;
  plugin.creator.v2 = (lammpsplugin_factory2 *) &flowmap_creator;
  (*register_plugin)(&plugin, lmp);

  plugin.name = "flowmap/exchange";
  plugin.info = "fix flowmap/exchange: flow-mapped replica exchange between a source and a "
                "target partition " FLOWMAP_VERSION;
  plugin.creator.v2 = (lammpsplugin_factory2 *) &flowmap_exchange_creator;
  (*register_plugin)(&plugin, lmp);
}
