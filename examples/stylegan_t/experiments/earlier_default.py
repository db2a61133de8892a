"""The shapes recipe before the long blur, cross-attention, the 1600-step CLIP and the plain
block pairs: the baseline the later changes were measured against (docs/results.md)."""

blur_sigma = 2.0
blur_fade_kimg = 10.0
cross_attention = ""
clip_pretrain_steps = 400
residual = True
