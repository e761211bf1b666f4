/* ----------------------------------------------------------------------
   USER-FLOWMAP: circular shift.
------------------------------------------------------------------------- */

#include "flowmap_shift.h"

#include "flowmap_coordinates.h"

namespace flowmap {

ShiftImpl::ShiftImpl(std::int64_t dimension)
{
  shift = register_parameter("shift", torch::zeros({dimension}));
}

torch::Tensor ShiftImpl::forward(const torch::Tensor &u)
{
  return wrap_unit(u + shift);
}

torch::Tensor ShiftImpl::inverse(const torch::Tensor &u)
{
  return wrap_unit(u - shift);
}

}    // namespace flowmap
