"""StyleGAN-T's residual second layer in each block pair (the paper-size presets keep it).

Measured (docs/results.md, Ablation, 95 kimg, 3 seeds): single seen 0.64 against the recipe's
0.80, and each step is slower; the shapes preset leaves it out.
"""

residual = True
