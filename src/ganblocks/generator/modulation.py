"""Style modulation: the map from the latent w to the per-channel styles of a modulated conv."""

from typing import Literal

import torch
from torch import nn

from .._typing import Float, Tensor, check_shape
from .equalized import EqualLinear

__all__ = ["ModulationKind", "PolynomialModulation", "AffineModulation", "create_modulation"]

ModulationKind = Literal["polynomial", "affine"]


class _StyleModulation(nn.Module):
    r"""One equalised linear map $w \mapsto$ `terms` $\cdot C$, every bias initialised to 1;
    `_styles` turns its output into the $C$ styles."""

    terms = 1

    def __init__(
        self,
        w_dim: int,
        channels: int,
        *,
        lr_multiplier: float = 1.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.w_dim = w_dim
        self.channels = channels
        self.affine = EqualLinear(
            w_dim, self.terms * channels, bias_init=1.0, lr_multiplier=lr_multiplier,
            device=device, dtype=dtype,
        )

    def _styles(self, a: Tensor) -> Tensor:
        return a

    def forward(self, w: Float[Tensor, "b {self.w_dim}"]) -> Float[Tensor, "b {self.channels}"]:
        check_shape("w", w, (None, self.w_dim))
        return self._styles(self.affine(w))

    def extra_repr(self) -> str:
        return f"w_dim={self.w_dim}, channels={self.channels}"


class PolynomialModulation(_StyleModulation):
    r"""Second-order style modulation of StyleGAN-T.

    One equalised linear map $w \mapsto 3C$, with every bias initialised to 1, split into three
    chunks:

    $$[s_1, s_2, s_3] = A w + b, \qquad s = s_1 \odot s_2 + s_3.$$

    Each style is a quadratic polynomial of $w$; products of text and latent coordinates let the
    text embedding gate the latent's influence.

    Args:
        w_dim: Width of the latent $w$.
        channels: Number of styles $C$ (the modulated conv's input channels).
        lr_multiplier: Learning-rate multiplier of the linear map.
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    terms = 3

    def _styles(self, a: Tensor) -> Tensor:
        s1, s2, s3 = a.chunk(3, dim=1)
        return s1 * s2 + s3


class AffineModulation(_StyleModulation):
    r"""First-order style modulation of StyleGAN2: one affine map, bias initialised to 1.

    $$s = A w + b$$

    Same interface as `PolynomialModulation`, for ablations.

    Args:
        w_dim: Width of the latent $w$.
        channels: Number of styles $C$.
        lr_multiplier: Learning-rate multiplier of the linear map.
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """


def create_modulation(
    kind: ModulationKind,
    w_dim: int,
    channels: int,
    *,
    lr_multiplier: float = 1.0,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> PolynomialModulation | AffineModulation:
    """Build the style modulation named by `kind`.

    Args:
        kind: `"polynomial"` (StyleGAN-T) or `"affine"` (StyleGAN2).
        w_dim: Width of the latent $w$.
        channels: Number of styles.
        lr_multiplier: Learning-rate multiplier of the linear map.
        device: Device of the parameters.
        dtype: Dtype of the parameters.

    Returns:
        The modulation module.
    """
    if kind == "polynomial":
        cls = PolynomialModulation
    elif kind == "affine":
        cls = AffineModulation
    else:
        raise ValueError(f"modulation must be 'polynomial' or 'affine', got {kind!r}")
    return cls(w_dim, channels, lr_multiplier=lr_multiplier, device=device, dtype=dtype)
