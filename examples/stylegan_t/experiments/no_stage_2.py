"""No stage 2: stage 1 to the end of the run.

Measured (docs/results.md, Ablation, 95 kimg, 3 seeds): level (single seen 0.81 against 0.80),
a little less diverse (0.37 against 0.41).
"""

stage2_fraction = 0.0
