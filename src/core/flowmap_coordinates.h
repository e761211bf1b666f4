/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: periodic Cartesian configurations <-> the flow's internal coordinates
   (doc/method.md section 8).

   A reference particle becomes the origin and is dropped, the others are wrapped into the
   box around it and scaled to the torus [-1, 1)^d. The source and target boxes are
   normalised separately by the caller passing the box that belongs to the configuration.
   Symmetry augmentation applies a signed permutation R of the axes to the relative
   coordinates. Everything here works in the dtype of its input; callers use float64.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_COORDINATES_H
#define FLOWMAP_COORDINATES_H

#include <torch/torch.h>

#include <cstdint>

namespace flowmap {

// u - 2 floor((u + 1) / 2), into [-1, 1) even when rounding would give 1. The gradient is
// that of the identity, so wrapping never cuts an autograd graph.
torch::Tensor wrap_unit(const torch::Tensor &u);

// [G, d, d] float64 signed permutation matrices. cubic: the full symmetry group of the
// square (8) or cube (48); otherwise only the 2^d axis reflections, which are the
// symmetries of any orthogonal box. Element 0 is the identity.
torch::Tensor symmetry_group(std::int64_t dimension, bool cubic);

struct InternalCoordinates {
  torch::Tensor u;         // [B, N-1, d] in [-1, 1), particles in original order minus the reference
  torch::Tensor origin;    // [B, d] position of the reference particle
};

// x [B, N, d] positions in the periodic orthogonal box with lengths box [d]; reference [B]
// int64 index of the particle that becomes the origin; symmetry (optional) [B, d, d].
// u = wrap(R (x_j - x_ref) / (L / 2)). A symmetry that permutes axes needs a cubic box
// (std::invalid_argument otherwise); shape errors are std::invalid_argument too.
InternalCoordinates to_internal(const torch::Tensor &x, const torch::Tensor &box,
                                const torch::Tensor &reference,
                                const torch::Tensor &symmetry = {});

// The inverse up to periodic images: the reference particle is re-inserted at its index at
// `origin`, particle j at origin + R^T u_j L / 2 (not wrapped into the box).
torch::Tensor to_cartesian(const InternalCoordinates &c, const torch::Tensor &box,
                           const torch::Tensor &reference, const torch::Tensor &symmetry = {});

}    // namespace flowmap

#endif
