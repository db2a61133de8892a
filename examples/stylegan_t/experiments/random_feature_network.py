"""A randomly initialised frozen ViT as the discriminator's feature network, instead of the
pretrained tiny CLIP's image tower.

Measured (docs/results.md, Ablation, 95 kimg, 3 seeds): position 0.34 against 0.99, single seen
0.17 against 0.80: pretrained features carry the discriminator.
"""

dino_model = "tiny"
dino_weights = None
