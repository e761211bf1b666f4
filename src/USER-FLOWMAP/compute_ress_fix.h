/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: compute ress in fix mode.

   The frames a fix flowmap (mode map) has mapped since the last invocation, each once, in the
   order they were mapped, with the flow's weights and the identity-baseline weights of the
   same frames.
------------------------------------------------------------------------- */

#ifndef LMP_COMPUTE_RESS_FIX_H
#define LMP_COMPUTE_RESS_FIX_H

#include "compute_ress_source.h"

#include <cstdint>
#include <string>

namespace LAMMPS_NS {

class FixFlowMap;

class RESSFixSource : public RESSSampleSource {
 public:
  RESSFixSource(LAMMPS *lmp, const char *id, const char *fix_id);

  int parse_keyword(int, char **) override { return 0; }
  void setup() override;
  void init() override;
  std::vector<RESSSample> samples() override;
  bool has_baseline() const override { return true; }
  const char *keywords() const override { return "file, bootstrap or seed"; }

 private:
  std::string id_, fix_id_;
  FixFlowMap *fix_ = nullptr;
  std::uint64_t fix_serial_ = 0;    // FixFlowMap::serial() of fix_
  std::size_t consumed_ = 0;        // of fix_'s weighed frames

  void find_fix();
};

}    // namespace LAMMPS_NS

#endif
