"""Time the discriminator's forward + backward against its frozen backbone's alone.

Usage: python benchmarks/bench_discriminator.py [--batch 8] [--runs 10] [--device cpu|cuda]
       [--threads N]

Builds the paper-sized discriminator: a DINO ViT-S/16 (random weights: timing does not depend on
them) at 224 px, five heads of 384 channels conditioned on a 768-d caption embedding, DiffAugment.
Candidates, run round-robin after warm-up (so load from other processes hits all alike):

- backbone: the ViT's token maps of a normalised 224 px batch, gradient to the input;
- discriminator: augment, resize, normalise, ViT, heads, gradient to the images only (what the
  generator step needs; autograd skips the heads' weight gradients);
- discriminator+weights: the same with ``loss.backward()``, heads' weight gradients included
  (what the discriminator step computes);
- discriminator bf16-heads: the discriminator with its heads' convs computing in bfloat16
  (``MultiHeadDiscriminator(..., compute_dtype=torch.bfloat16)``; the backbone stays float32),
  skipped with ``--no-bf16`` or where the device has no bf16 matmuls.

Prints the median time of each and the ratios to the backbone (the target is <= 1.3 for the
gradient to the images).
"""

import argparse
import statistics

import torch

from _timing import device_clock
from ganblocks.backbones import create_dino_backbone
from ganblocks.discriminator import DiffAugment, DINOFeatureDiscriminator, MultiHeadDiscriminator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--c-dim", type=int, default=768)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per candidate")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16-heads candidate")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    backbone = create_dino_backbone(pretrained=False, device=device)
    heads = MultiHeadDiscriminator(backbone.channels, args.c_dim, device=device)
    disc = DINOFeatureDiscriminator(backbone, heads, augment=DiffAugment()).train()
    heads16 = MultiHeadDiscriminator(backbone.channels, args.c_dim, compute_dtype=torch.bfloat16, device=device)
    heads16.load_state_dict(heads.state_dict())
    disc16 = DINOFeatureDiscriminator(backbone, heads16, augment=DiffAugment()).train()
    size = backbone.image_size
    images = (torch.rand(args.batch, 3, size, size, device=device) * 2 - 1).requires_grad_(True)
    c = torch.nn.functional.normalize(torch.randn(args.batch, args.c_dim, device=device), dim=-1)
    normalised = disc.prepare(images.detach()).requires_grad_(True)

    def backbone_step() -> None:
        loss = sum(m.mean() for m in backbone(normalised))
        torch.autograd.grad(loss, normalised)

    def disc_step() -> None:
        torch.autograd.grad(disc(images, c).mean(), images)

    def disc_weights_step() -> None:
        disc.zero_grad(set_to_none=True)
        disc(images, c).mean().backward()

    def disc16_step() -> None:
        torch.autograd.grad(disc16(images, c).mean(), images)

    candidates = {"backbone": backbone_step, "discriminator": disc_step,
                  "discriminator+weights": disc_weights_step}
    bf16_ok = torch.cuda.is_bf16_supported() if device.type == "cuda" else torch.backends.mkldnn.is_available()
    if not args.no_bf16 and bf16_ok:
        candidates["discriminator bf16-heads"] = disc16_step
    now = device_clock(device)
    for _ in range(args.warmup):
        for fn in candidates.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.runs):
        for name, fn in candidates.items():
            start = now()
            fn()
            times[name].append(now() - start)

    medians = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"device={device} threads={torch.get_num_threads()} batch={args.batch} image={size}px "
          f"heads={len(heads.heads)}x{backbone.embed_dim}ch c_dim={args.c_dim} runs={args.runs}")
    for name, t in medians.items():
        ratio = t / medians["backbone"]
        print(f"{name:>25s}: median {t * 1000:8.1f} ms   ratio to backbone {ratio:.3f}")


if __name__ == "__main__":
    main()
