"""Fourier-feature input of the synthesis network, with a w-driven rotation and translation."""

import math

import torch
from torch import nn

from .._typing import Float, Tensor, check_shape
from .equalized import EqualLinear

__all__ = ["FourierFeatures"]


class FourierFeatures(nn.Module):
    r"""Sinusoidal input features on a fixed grid, rotated and translated as a function of $w$.

    Frequencies $f_c$ are drawn uniformly in the disc of radius `bandwidth` and phases
    $\varphi_c$ uniformly in $[-\tfrac12, \tfrac12)$; both are persistent buffers, so a saved
    state dict reproduces them. An equalised linear map gives
    $(r_c, r_s, t_x, t_y) = A w + b$, divided by $\lVert (r_c, r_s) \rVert$, with $A = 0$ and
    $b = (1, 0, 0, 0)$ at initialisation (the identity transform). With the rotation
    $R = \begin{pmatrix} r_c & -r_s \\ r_s & r_c \end{pmatrix}$ and $t = (t_x, t_y)$, the
    features at grid point $p$ are

    $$\phi_c(p) = \sin\big(2\pi(\langle R p + t, f_c\rangle + \varphi_c)\big),
    \qquad y = \tfrac{1}{\sqrt C}\, M \phi$$

    with $M$ a learned $C \times C$ channel mix (initialised from $\mathcal N(0, 1)$). The grid
    holds the centres of `size` $\times$ `size` pixels covering
    $[-\tfrac{s}{2 r}, \tfrac{s}{2 r}]^2$ for size $s$ and sampling rate $r$. An optional
    `shift` $\delta$ per sample is added to the learned translation, $t \to t + \delta$, in the
    grid's units ($\delta = 1/r$ moves the features by one pixel): a translation the caller
    draws (e.g. from the latent) that the network cannot learn away through $A$.

    Args:
        w_dim: Width of the latent $w$.
        channels: Number of features $C$.
        size: Side of the output grid.
        sampling_rate: Grid points per unit length.
        bandwidth: Radius of the frequency disc.
        device: Device of the parameters and buffers.
        dtype: Dtype of the parameters and buffers.
    """

    freqs: Tensor
    phases: Tensor

    def __init__(
        self,
        w_dim: int,
        channels: int,
        *,
        size: int = 8,
        sampling_rate: float = 8.0,
        bandwidth: float = 2.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if size < 1 or channels < 1:
            raise ValueError(f"size and channels must be >= 1, got {size}, {channels}")
        if sampling_rate <= 0 or bandwidth < 0:
            raise ValueError(
                f"sampling_rate must be > 0 and bandwidth >= 0, got {sampling_rate}, {bandwidth}"
            )
        factory = {"device": device, "dtype": dtype}
        self.w_dim = w_dim
        self.channels = channels
        self.size = size
        self.sampling_rate = sampling_rate
        self.bandwidth = bandwidth
        angle = 2.0 * math.pi * torch.rand(channels, **factory)
        radius = bandwidth * torch.rand(channels, **factory).sqrt()  # uniform in the disc
        self.register_buffer("freqs", torch.stack([angle.cos(), angle.sin()], dim=1) * radius[:, None])
        self.register_buffer("phases", torch.rand(channels, **factory) - 0.5)
        self.affine = EqualLinear(w_dim, 4, **factory)
        with torch.no_grad():
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.weight = nn.Parameter(torch.randn(channels, channels, **factory))

    def grid(
        self, *, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> Float[Tensor, "{self.size} {self.size} 2"]:
        """Return the `(x, y)` coordinates of the pixel centres, indexed `[row, column]`."""
        half = self.size / (2.0 * self.sampling_rate)
        step = 1.0 / self.sampling_rate
        coords = torch.arange(self.size, device=device, dtype=dtype) * step + (step / 2 - half)
        ys, xs = torch.meshgrid(coords, coords, indexing="ij")
        return torch.stack([xs, ys], dim=-1)

    def forward(
        self, w: Float[Tensor, "b {self.w_dim}"], *, shift: Float[Tensor, "b 2"] | None = None
    ) -> Float[Tensor, "b {self.channels} {self.size} {self.size}"]:
        """The features for `w`, translated further by `shift` (`(x, y)` per sample) if given."""
        check_shape("w", w, (None, self.w_dim))
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        cos, sin, tx, ty = t.unbind(dim=1)
        if shift is not None:
            check_shape("shift", shift, (w.shape[0], 2))
            tx, ty = tx + shift[:, 0].to(tx.dtype), ty + shift[:, 1].to(ty.dtype)
        # <R p + t, f> = <p, R^T f> + <t, f>: rotate the frequencies, shift the phases.
        rot_t = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
        freqs = torch.einsum("bij,cj->bci", rot_t, self.freqs)  # rows of R^T f_c
        phases = self.phases + torch.stack([tx, ty], dim=1) @ self.freqs.transpose(0, 1)
        grid = self.grid(device=w.device, dtype=freqs.dtype)
        arg = torch.einsum("hwi,bci->bhwc", grid, freqs) + phases[:, None, None, :]
        features = torch.sin(2.0 * math.pi * arg)
        mix = self.weight * (1.0 / math.sqrt(self.channels))
        return torch.einsum("bhwc,oc->bohw", features, mix.to(features.dtype))

    def extra_repr(self) -> str:
        return (
            f"w_dim={self.w_dim}, channels={self.channels}, size={self.size}, "
            f"sampling_rate={self.sampling_rate}, bandwidth={self.bandwidth}"
        )
