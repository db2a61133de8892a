"""Equalised-learning-rate linear layer and the fused bias + activation + clamp."""

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .._typing import Float, Tensor

__all__ = ["bias_act", "EqualLinear"]

Activation = Literal["linear", "lrelu"]

_LRELU_SLOPE = 0.2


def bias_act(
    x: Float[Tensor, "b c *rest"],
    bias: Float[Tensor, " c"] | None = None,
    *,
    activation: Activation = "linear",
    gain: float | None = None,
    clamp: float | None = None,
) -> Float[Tensor, "b c *rest"]:
    r"""Add a per-channel bias, apply an activation, scale and clamp.

    $$y = \operatorname{clamp}\big(g \cdot \phi(x + b),\ -c,\ c\big)$$

    with $\phi$ the identity (`"linear"`) or the leaky ReLU with slope 0.2 (`"lrelu"`). The
    default gain $g$ is $\sqrt 2$ for `"lrelu"` (it keeps the second moment of a unit Gaussian
    input) and 1 for `"linear"`.

    Args:
        x: Input; channels on axis 1.
        bias: Per-channel bias, or `None` for no bias.
        activation: `"linear"` or `"lrelu"`.
        gain: Output scale $g$; `None` picks the activation's default.
        clamp: Clamp the output to $[-c, c]$; `None` for no clamp.

    Returns:
        The activated tensor, same shape as `x`.
    """
    if bias is not None:
        if bias.ndim != 1 or bias.shape[0] != x.shape[1]:
            raise ValueError(
                f"bias has shape {list(bias.shape)}, expected [{x.shape[1]}] (x's channels)"
            )
        x = x + bias.reshape((1, -1) + (1,) * (x.ndim - 2))
    if activation == "lrelu":
        x = F.leaky_relu(x, _LRELU_SLOPE)
        gain = math.sqrt(2.0) if gain is None else gain
    elif activation != "linear":
        raise ValueError(f"activation must be 'linear' or 'lrelu', got {activation!r}")
    if gain is not None and gain != 1.0:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


class EqualLinear(nn.Module):
    r"""Fully connected layer with an equalised learning rate.

    The stored weight $V$ is drawn from $\mathcal N(0, 1/\lambda^2)$ and scaled at run time,
    so the effective weight and bias are

    $$W = V \cdot \frac{\lambda}{\sqrt{n_\text{in}}}, \qquad b = \beta \cdot \lambda,
    \qquad y = \phi(x W^\top + b)$$

    with $\lambda$ the learning-rate multiplier. Adam then moves every weight at the same
    relative speed, $\lambda$ times the base rate. The bias is stored as
    $\beta = \text{bias\_init} / \lambda$, so `bias_init` is the effective initial bias whatever
    $\lambda$ is.

    Args:
        in_features: Input width $n_\text{in}$.
        out_features: Output width.
        bias: Whether to add a bias.
        bias_init: Effective initial value of every bias entry.
        lr_multiplier: Learning-rate multiplier $\lambda$.
        activation: `"linear"`, or `"lrelu"` (leaky ReLU 0.2 with gain $\sqrt 2$).
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_multiplier: float = 1.0,
        activation: Activation = "linear",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"in_features and out_features must be >= 1, got {in_features}, {out_features}"
            )
        if lr_multiplier <= 0:
            raise ValueError(f"lr_multiplier must be > 0, got {lr_multiplier}")
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"activation must be 'linear' or 'lrelu', got {activation!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.lr_multiplier = lr_multiplier
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(
            torch.randn(out_features, in_features, **factory) / lr_multiplier
        )
        self.bias = (
            nn.Parameter(torch.full((out_features,), bias_init / lr_multiplier, **factory))
            if bias
            else None
        )

    def forward(
        self, x: Float[Tensor, "*batch {self.in_features}"]
    ) -> Float[Tensor, "*batch {self.out_features}"]:
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"x has shape {list(x.shape)}, expected [..., {self.in_features}]"
            )
        weight = self.weight * self.weight_gain
        bias = None if self.bias is None else self.bias * self.lr_multiplier
        y = F.linear(x, weight, bias)
        if self.activation == "lrelu":
            y = F.leaky_relu(y, _LRELU_SLOPE) * math.sqrt(2.0)
        return y

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, lr_multiplier={self.lr_multiplier}, "
            f"activation={self.activation!r}"
        )
