"""The earlier discriminator-input blur: sigma 2 px fading over 10 kimg (the recipe: 8 px over 30).

Measured with cross-attention (docs/results.md, What each part of the recipe buys).
"""

blur_sigma = 2.0
blur_fade_kimg = 10.0
