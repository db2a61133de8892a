"""StyleGAN2's affine style modulation instead of StyleGAN-T's polynomial one.

Measured (docs/results.md, Ablation, 95 kimg, 3 seeds): level with the recipe (single seen
0.80 against 0.80).
"""

modulation = "affine"
