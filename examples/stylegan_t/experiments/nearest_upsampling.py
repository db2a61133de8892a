"""Nearest-neighbour 2x upsampling in the synthesis network instead of StyleGAN's FIR filter."""

upsample = "nearest"
