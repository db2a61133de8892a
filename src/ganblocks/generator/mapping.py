"""Mapping network of StyleGAN-T: w = concat(MLP(z), c), with a running mean for truncation."""

import torch
from torch import nn

from .._typing import Float, Tensor, check_shape
from .equalized import EqualLinear

__all__ = ["MappingNetwork"]


class MappingNetwork(nn.Module):
    r"""Map a latent $z$ and a text embedding $c$ to the style latent $w$.

    $$\tilde z = \frac{z}{\sqrt{\operatorname{mean}(z^2) + 10^{-8}}}, \qquad
    x = \operatorname{MLP}(\tilde z), \qquad
    w = \big[\operatorname{lerp}(\bar x, x, \psi),\ c\big]$$

    The MLP has `num_layers` equalised linear layers (leaky ReLU after all but the last, learning
    rate multiplier 0.01). The text embedding bypasses it, so `w_dim = z_dim + c_dim`. When
    `update_avg` is on, the running mean $\bar x$ (buffer `x_avg`) moves towards the batch mean
    of $x$: $\bar x \leftarrow \beta \bar x + (1 - \beta)\operatorname{mean}_b x$. Truncation
    ($\psi < 1$) pulls only the $z$ part towards $\bar x$, i.e. towards the per-prompt mean of
    $w$.

    Args:
        z_dim: Width of $z$ (and of the MLP's output).
        c_dim: Width of the text embedding $c$ (0 for an unconditional model).
        num_layers: Number of linear layers, at least 1.
        hidden_dim: Width of the hidden layers (default `z_dim`).
        lr_multiplier: Learning-rate multiplier of every layer.
        avg_beta: Decay $\beta$ of the running mean.
        device: Device of the parameters and buffer.
        dtype: Dtype of the parameters and buffer.
    """

    x_avg: Tensor

    def __init__(
        self,
        z_dim: int = 64,
        c_dim: int = 768,
        *,
        num_layers: int = 2,
        hidden_dim: int | None = None,
        lr_multiplier: float = 0.01,
        avg_beta: float = 0.995,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if z_dim < 1 or c_dim < 0 or num_layers < 1:
            raise ValueError(
                f"need z_dim >= 1, c_dim >= 0, num_layers >= 1; got {z_dim}, {c_dim}, {num_layers}"
            )
        if not 0.0 <= avg_beta <= 1.0:
            raise ValueError(f"avg_beta must be in [0, 1], got {avg_beta}")
        factory = {"device": device, "dtype": dtype}
        hidden_dim = z_dim if hidden_dim is None else hidden_dim
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = z_dim + c_dim
        self.avg_beta = avg_beta
        widths = [z_dim] + [hidden_dim] * (num_layers - 1) + [z_dim]
        self.layers = nn.ModuleList(
            EqualLinear(
                widths[i], widths[i + 1], lr_multiplier=lr_multiplier,
                activation="lrelu" if i < num_layers - 1 else "linear", **factory,
            )
            for i in range(num_layers)
        )
        self.register_buffer("x_avg", torch.zeros(z_dim, **factory))

    def forward(
        self,
        z: Float[Tensor, "b {self.z_dim}"],
        c: Float[Tensor, "b {self.c_dim}"],
        *,
        truncation_psi: float = 1.0,
        update_avg: bool | None = None,
    ) -> Float[Tensor, "b {self.w_dim}"]:
        check_shape("z", z, (None, self.z_dim))
        check_shape("c", c, (z.shape[0], self.c_dim))
        x = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        for layer in self.layers:
            x = layer(x)
        if self.training if update_avg is None else update_avg:
            with torch.no_grad():
                batch_mean = x.detach().mean(dim=0).to(self.x_avg.dtype)
                self.x_avg.copy_(batch_mean.lerp(self.x_avg, self.avg_beta))
        if truncation_psi != 1.0:
            x = self.x_avg.to(x.dtype).lerp(x, truncation_psi)
        return torch.cat([x, c.to(x.dtype)], dim=1)

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, c_dim={self.c_dim}, avg_beta={self.avg_beta}"
