"""No CLIP guidance loss in stage 1.

Measured (docs/results.md, Ablation, 95 kimg, 3 seeds): level with the recipe (single seen 0.76
against 0.80, ahead in one seed, behind in two).
"""

clip_weight = 0.0
