"""Times the reference study's own PyTorch flow the way bench_flow times this package's.

The network is the study's published WCA -> LJ flow (8 blocks of a circular shift and two
couplings per component, transformer conditioners of width 128, 16 spline bins), assembled
from the study's public modules exactly as its trainer notebook does, with box normalisation
and origin removal on both sides. Timed, as in bench_flow (best and median of --repeat calls
after one warm-up):
  mapping   F (source -> target) and F^-1 on --batch configurations under inference mode;
  training  F on a source batch and F^-1 on a target batch, a loss that depends on every mapped
            coordinate and on both log-determinants, backward, one Adam step.
No energies: both programs time the network alone.

  python3 bench/study_network_timing.py --study DIR --einops DIR [--batch 512] [--threads 2]
      [--repeat 3] [--particles 32] [--dimension 2]
--study: a checkout of CompPhysVienna/paper_boltzmann2boltzmann; --einops: a folder holding
the einops package (0.7.0 was the study's). Prints one line per figure in bench_flow's words,
so bench/bench_vs_study.sh reads both programs with the same patterns.
"""
import argparse
import os
import statistics
import sys
import time


def timing(work, repeat):
    work()    # warm-up: first-call allocations and thread start-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1e3)
    return min(times), statistics.median(times)


def build_study_flow(torch, n_particles, dimensions, box_source, box_target, blocks, bins):
    from normalizing_flow.circular_shift import circular_shift
    from normalizing_flow.equivariant_transformer import RQS_coupling_block
    from normalizing_flow.flow_assembler import flow_assembler
    from transformations.normalization import normalize_box
    from transformations.remove_origin import remove_origin

    device = torch.device("cpu")
    rows = n_particles - 1
    # the notebook's block: shift, C(x), C(y), shift, C(y), C(x) (in 2D)
    order = list(range(dimensions))
    block_list = []
    for _ in range(blocks):
        for components in (order, order[::-1]):
            block_list.append(circular_shift(rows, dimensions, device))
            for c in components:
                block_list.append(RQS_coupling_block((c,), rows, dimensions, device, bins))
    box_pr = torch.full((dimensions,), box_source)
    box_sys = torch.full((dimensions,), box_target)
    rm_origin = remove_origin(n_particles=n_particles, dimensions=dimensions, device=device)
    return flow_assembler(
        prior=None, posterior=None, device=device, blocks=block_list,
        prior_sided_transformation_layers=[
            normalize_box(n_particles=n_particles, dimensions=dimensions, box_length=box_pr,
                          device=device), rm_origin],
        post_sided_transformation_layers=[
            normalize_box(n_particles=n_particles, dimensions=dimensions, box_length=box_sys,
                          device=device), rm_origin])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", required=True)
    parser.add_argument("--einops", required=True)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--particles", type=int, default=32)
    parser.add_argument("--dimension", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--bins", type=int, default=16)
    a = parser.parse_args()
    sys.path[:0] = [os.path.join(a.study, "src"), a.einops]
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)

    n, d = a.particles, a.dimension
    box_source = (n / 0.735) ** (1.0 / d)
    box_target = (n / 0.704) ** (1.0 / d)
    flow = build_study_flow(torch, n, d, box_source, box_target, a.blocks, a.bins)
    parameters = sum(p.numel() for p in flow.parameters() if p.requires_grad)
    # configurations in [-L/2, L/2) with particle 0 at the origin, as the study's data
    z = (torch.rand(a.batch, n, d) - 0.5) * box_source
    x = (torch.rand(a.batch, n, d) - 0.5) * box_target
    z[:, 0] = 0.0
    x[:, 0] = 0.0
    z, x = z.reshape(a.batch, -1), x.reshape(a.batch, -1)
    print(f"study: published flow of the reference study, {parameters} parameters, batch "
          f"{a.batch}, {a.threads} threads, torch {torch.__version__}")

    flow.eval()

    def forward():
        with torch.inference_mode():
            flow.F_zx(z)

    def inverse():
        with torch.inference_mode():
            flow.F_xz(x)

    fwd, fwd_median = timing(forward, a.repeat)
    inv, inv_median = timing(inverse, a.repeat)
    print(f"  mapping: forward {a.batch / fwd * 1e3:.0f} conf/s ({fwd:.1f} ms, median "
          f"{fwd_median:.1f}), inverse {a.batch / inv * 1e3:.0f} conf/s ({inv:.1f} ms, median "
          f"{inv_median:.1f})")

    flow.train()
    optimizer = torch.optim.Adam([p for p in flow.parameters() if p.requires_grad], lr=1e-4)

    def step():
        mapped, log_det_forward = flow.F_zx(z)
        pulled, log_det_inverse = flow.F_xz(x)
        # the stand-in for the energies that bench_flow uses
        loss = 1e-3 * (mapped.square().mean() + pulled.square().mean()) - \
            log_det_forward.mean() - log_det_inverse.mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    best, median = timing(step, a.repeat)
    print(f"  training step (F + F^-1, backward, Adam): {best:.0f} ms (median {median:.0f})")


if __name__ == "__main__":
    main()
