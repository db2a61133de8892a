"""The tiny CLIP pretrained for 400 steps instead of the shipped 1600 (trained on first use).

Measured (docs/results.md, What each part of the recipe buys, stage 1, 25.6 kimg): 1600 steps
raised position from 0.45 to 0.94.
"""

clip_pretrain_steps = 400
