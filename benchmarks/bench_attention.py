"""Cost and stability of the generator's attention blocks.

    python benchmarks/bench_attention.py speed       # forward+backward vs the synthesis block
    python benchmarks/bench_attention.py stability   # logits of the self-attention variants

``speed``: at the ``small`` preset's size (256 channels, 77 text tokens of 768 d, batch 8), the
median forward+backward time of one synthesis block (upsampling conv + one residual pair +
toRGB) at each resolution, and of a `SpatialSelfAttention` and a `TextCrossAttention` on its
output, all in the same process.

``stability``: each self-attention variant (``dot``, ``qk_norm``, ``l2``) trained alone with
Adam at a large learning rate on a task that needs sharp attention (each pixel must copy its
left neighbour); reports the loss, the largest attention logit and the mean attention entropy
(log of the number of pixels = uniform) after training, over seeds, and whether every loss
stayed finite.
"""

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import device_clock  # noqa: E402

import ganblocks  # noqa: E402
import ganblocks.generator.self_attention as mod  # noqa: E402


def _median_ms(fn, device, reps):
    now = device_clock(device)
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = now()
        fn()
        times.append((now() - t0) * 1e3)
    return statistics.median(times)


def speed(args) -> dict:
    device = torch.device(args.device)
    b, c, n, t = args.batch, args.channels, 77, 768
    tokens = torch.randn(b, n, t, device=device)
    mask = torch.arange(n, device=device)[None] < torch.randint(4, 20, (b, 1), device=device)
    w = torch.randn(b, 64 + t, device=device)
    rows = []
    for r in args.resolutions:
        block = ganblocks.SynthesisBlock(c, c, w_dim=w.shape[1], resolution=r, num_res_blocks=1,
                                         first=False).to(device)
        sa = ganblocks.SpatialSelfAttention(c, num_heads=4).to(device)
        ca = ganblocks.TextCrossAttention(c, t, num_heads=4).to(device)
        x_in = torch.randn(b, c, r // 2, r // 2, device=device, requires_grad=True)
        x = torch.randn(b, c, r, r, device=device, requires_grad=True)

        def run_block():
            feats, img = block(x_in, None, w, noise_mode="const")
            (feats.square().mean() + img.square().mean()).backward()

        def run_sa():
            sa(x).square().mean().backward()

        def run_ca():
            ca(x, tokens, mask).square().mean().backward()

        runs = (run_block, run_sa if r <= args.max_self_resolution else None, run_ca)
        ms = [_median_ms(f, device, args.reps) if f is not None else float("nan") for f in runs]
        rows.append({"resolution": r, "block_ms": ms[0], "self_attention_ms": ms[1], "cross_attention_ms": ms[2],
                     "self_ratio": ms[1] / ms[0], "cross_ratio": ms[2] / ms[0]})
        print(f"{r:3d} px  block {ms[0]:8.1f} ms  self-attn {ms[1]:8.1f} ms ({ms[1] / ms[0]:.2f}x)  "
              f"cross-attn {ms[2]:8.1f} ms ({ms[2] / ms[0]:.2f}x)", flush=True)
    return {"batch": b, "channels": c, "tokens": n, "text_dim": t, "threads": torch.get_num_threads(), "rows": rows}


def stability(args) -> dict:
    out = {}
    side, c = 16, 64
    for logits in ("dot", "qk_norm", "l2"):
        runs = []
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            block = ganblocks.SpatialSelfAttention(c, num_heads=4, logits=logits, layer_scale_init=1.0)
            opt = torch.optim.Adam(block.parameters(), lr=args.lr, betas=(0.0, 0.99))
            x = torch.randn(args.batch, c, side, side)
            target = torch.roll(x, shifts=1, dims=-1)  # copy the left neighbour: needs sharp attention
            captured = {}

            def hook(q, k, v, *, mask=None, bias=None, impl="sdpa", _orig=ganblocks.attention):
                logit = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
                if bias is not None:
                    logit = logit + bias
                captured["max"] = logit.abs().max().item()
                p = logit.float().softmax(-1)
                captured["entropy"] = -(p * p.clamp_min(1e-30).log()).sum(-1).mean().item()
                return _orig(q, k, v, mask=mask, bias=bias, impl=impl)

            losses = []
            for _ in range(args.steps):
                loss = (block(x) - target).square().mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
            original = mod.attention
            mod.attention = hook  # read the logits of one last forward pass
            try:
                with torch.no_grad():
                    block(x)
            finally:
                mod.attention = original
            runs.append({"seed": seed, "final_loss": losses[-1], "finite": all(math.isfinite(v) for v in losses),
                         "max_logit": captured["max"], "entropy": captured["entropy"]})
        agg = {k: (statistics.mean(r[k] for r in runs), statistics.pstdev(r[k] for r in runs))
               for k in ("final_loss", "max_logit", "entropy")}
        out[logits] = {"runs": runs, "mean_std": agg}
        print(f"{logits:8s} loss {agg['final_loss'][0]:.3f} ± {agg['final_loss'][1]:.3f}  "
              f"max |logit| {agg['max_logit'][0]:9.1f} ± {agg['max_logit'][1]:.1f}  "
              f"entropy {agg['entropy'][0]:.2f} ± {agg['entropy'][1]:.2f} (uniform {math.log(side * side):.2f})",
              flush=True)
    return {"lr": args.lr, "steps": args.steps, "seeds": args.seeds, "variants": out}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["speed", "stability"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--channels", type=int, default=256)
    p.add_argument("--resolutions", type=lambda s: [int(v) for v in s.split(",")], default=[8, 16, 32, 64])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--max-self-resolution", type=int, default=32,
                   help="time self-attention up to this resolution (it is quadratic in the pixels)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = speed(args) if args.what == "speed" else stability(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
