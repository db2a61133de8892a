"""The finished image not moved by the latent.

Measured (docs/results.md, What each part of the recipe buys, 95 kimg, 5 seeds): the shift
raised diversity from 0.40 to 0.71 at equal all-correct.
"""

output_shift = 0.0
