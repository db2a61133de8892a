"""Time ModulatedConv and both paths of modulated_conv2d against a plain nn.Conv2d of the same shape.

Usage: python benchmarks/bench_modconv.py [--batch 8] [--size 64] [--channels 256] [--runs 15]
       [--device cpu|cuda] [--dtype float32|bfloat16] [--backward]

Runs the candidates round-robin (so that load from other processes hits all of them alike),
after warm-up, under torch.inference_mode (or with a backward pass, --backward), and prints the
median time of each and the ratio of ModulatedConv (the scaled path) to nn.Conv2d.
"""

import argparse
import statistics
from collections.abc import Callable

import torch
from torch import nn

from _timing import device_clock
from ganblocks.generator import ModulatedConv, modulated_conv2d, resolve_modconv_impl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--kernel-size", type=int, default=3)
    parser.add_argument("--up", type=int, default=1, choices=[1, 2])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per candidate (>= 10)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--backward", action="store_true", help="time forward + backward")
    args = parser.parse_args()

    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    c, k = args.channels, args.kernel_size
    x = torch.randn(args.batch, c, args.size, args.size, device=device, dtype=dtype)
    styles = torch.randn(args.batch, c, device=device, dtype=dtype)
    conv = nn.Conv2d(c, c, k, padding=k // 2, device=device, dtype=dtype)
    if args.up == 2:
        conv = nn.ConvTranspose2d(c, c, k, stride=2, device=device, dtype=dtype)
    candidates: dict[str, Callable[[], torch.Tensor]] = {"nn.Conv2d": lambda: conv(x)}
    mod = ModulatedConv(c, c, k, up=args.up, device=device, dtype=dtype)
    candidates["ModulatedConv"] = lambda: mod(x, styles)
    for impl in ("grouped", "scaled"):
        candidates[f"modulated_conv2d[{impl}]"] = lambda impl=impl: modulated_conv2d(
            x, mod.weight, styles, up=args.up, impl=impl)

    def step(fn: Callable[[], torch.Tensor]) -> None:
        if args.backward:
            fn().float().square().mean().backward()
        else:
            with torch.inference_mode():
                fn()

    if args.backward:
        x.requires_grad_(True)
        styles.requires_grad_(True)
    now = device_clock(device)
    for _ in range(args.warmup):
        for fn in candidates.values():
            step(fn)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.runs):
        for name, fn in candidates.items():
            start = now()
            step(fn)
            times[name].append(now() - start)

    medians = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"device={device} ({torch.get_num_threads()} threads) dtype={args.dtype} "
          f"batch={args.batch} size={args.size} channels={c} k={k} up={args.up} "
          f"{'forward+backward' if args.backward else 'forward (inference_mode)'} runs={args.runs}")
    print(f"auto resolves to: {resolve_modconv_impl('auto', device)}")
    for name, median in medians.items():
        print(f"  {name:27s} median {median * 1e3:9.3f} ms  ({medians[name] / medians['nn.Conv2d']:.3f}x)")
    ratio = medians["ModulatedConv"] / medians["nn.Conv2d"]
    print(f"ratio ModulatedConv / nn.Conv2d = {ratio:.3f}")


if __name__ == "__main__":
    main()
