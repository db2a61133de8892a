"""DiffAugment on the discriminator's inputs (the paper-size presets' values).

Measured (docs/results.md, What each part of the recipe buys): with the tiny CLIP's image
tower as D's features, leaving DiffAugment out was part of the change that raised position from
0.09 to 0.41.
"""

augment_brightness = 0.5
augment_saturation = 1.0
augment_contrast = 0.5
augment_translation = 0.125
augment_cutout = 0.2
