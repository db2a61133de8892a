"""Modulated (and demodulated) convolution of StyleGAN2, with optional 2x FIR upsampling."""

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .._typing import Float, Tensor, check_shape
from ..ops.upfirdn import FIR_TAPS, fir_filter2d, upsample_padding

__all__ = ["ModConvImpl", "modulated_conv2d", "resolve_modconv_impl", "ModulatedConv"]

ModConvImpl = Literal["auto", "grouped", "scaled"]


def resolve_modconv_impl(impl: ModConvImpl, device: torch.device) -> Literal["grouped", "scaled"]:
    """The path of `modulated_conv2d` that `impl` names on `device`: `"auto"` is `"scaled"`.

    The scaled path is one convolution with the shared weight: it runs the kernels of a plain
    convolution, exports to ONNX as one, and never materialises the per-sample weights
    (`batch * out * in * k * k` values). The grouped path is the textbook form, kept as a
    reference; its convolution with `groups = batch` is the slower one on every device measured
    (the timings and their commands are on the generator blocks' page of the docs).

    Args:
        impl: `"auto"`, `"grouped"` or `"scaled"`.
        device: Device the convolution runs on.

    Returns:
        `"grouped"` or `"scaled"`.
    """
    if impl == "auto":
        return "scaled"
    if impl not in ("grouped", "scaled"):
        raise ValueError(f"impl must be 'auto', 'grouped' or 'scaled', got {impl!r}")
    return impl


def _up_fir_padding(kernel_size: int, up: int, num_taps: int) -> tuple[int, int, int, int]:
    """FIR padding after a stride-`up` transposed conv so that the output is exactly `up * h`."""
    before = upsample_padding(num_taps, up)[0] - (kernel_size - 1) // 2
    after = up - kernel_size + num_taps - 1 - before
    return (before, after, before, after)


def _conv(
    x: Tensor, weight: Tensor, *, up: int, padding: int, groups: int,
    up_taps: tuple[float, ...] = FIR_TAPS,
) -> Tensor:
    """`x` correlated with `weight`; for `up > 1` on the zero-inserted `x`, then FIR-filtered."""
    if up == 1:
        return F.conv2d(x, weight, padding=padding, groups=groups)
    out_per_group, in_per_group, kh, kw = weight.shape
    # conv_transpose2d correlates the zero-inserted input with the flipped kernel; flip it back
    # so that up=2 means "insert zeros, then correlate with `weight`", like up=1.
    weight = weight.flip(2, 3).reshape(groups, out_per_group // groups, in_per_group, kh, kw)
    weight = weight.transpose(1, 2).reshape(groups * in_per_group, out_per_group // groups, kh, kw)
    y = F.conv_transpose2d(x, weight, stride=up, groups=groups)
    return fir_filter2d(y, taps=up_taps, padding=_up_fir_padding(kh, up, len(up_taps)), gain=float(up * up))


def _nchw(t: Tensor) -> Tensor:
    # `t` with the strides of the standard layout (a copy only when they differ; size-1 dims make
    # `is_contiguous` accept channels-last strides too, so compare strides directly)
    standard, step = [], 1
    for size in reversed(t.shape):
        standard.insert(0, step)
        step *= size
    return t if t.stride() == tuple(standard) else t.clone(memory_format=torch.contiguous_format)


def modulated_conv2d(
    x: Float[Tensor, "b i h w"],
    weight: Float[Tensor, "o i kh kw"],
    styles: Float[Tensor, "b i"],
    *,
    demodulate: bool = True,
    up: int = 1,
    padding: int | None = None,
    impl: ModConvImpl = "auto",
    eps: float = 1e-8,
    up_taps: tuple[float, ...] = FIR_TAPS,
) -> Float[Tensor, "b o h2 w2"]:
    r"""Convolve each sample with its own style-modulated (and demodulated) weight.

    $$W'_{b,o,i,\cdot} = W_{o,i,\cdot}\, s_{b,i}, \qquad
    W''_{b,o,i,\cdot} = \frac{W'_{b,o,i,\cdot}}{\sqrt{\sum_{i,k,k} {W'_{b,o,i,\cdot}}^2 + \epsilon}}$$

    and $y_b = W''_b \star x_b$ ($W'$ when `demodulate` is off). Two implementations give the
    same result up to rounding:

    * `"scaled"` (what `"auto"` picks, and what `ModulatedConv` and the generator's layers run)
      uses $W''_b \star x_b = d_b \odot \big(W \star (s_b \odot x_b)\big)$ with the
      demodulation coefficient $d_{b,o} = (\sum_i s_{b,i}^2 \sum_{k,k} W_{o,i,\cdot}^2 +
      \epsilon)^{-1/2}$: one convolution with the shared weight;
    * `"grouped"`, the reference, builds the per-sample weights and runs one convolution with
      `groups = b` (see `resolve_modconv_impl`).

    With `up = 2` the convolution is transposed with stride 2 (it correlates `weight` with the
    zero-inserted input) and is followed by the FIR filter `up_taps` (default $[1, 3, 3, 1]$)
    with gain 4; the output is exactly $2h \times 2w$ and, away from the border, equals
    `upsample2d(x, taps=up_taps)` convolved with `weight` at padding $k // 2$. With
    `NEAREST_TAPS` $[1, 1]$ that is nearest-neighbour upsampling followed by the convolution,
    exactly, borders included.

    Args:
        x: Input activations.
        weight: Shared convolution weight $W$ (a square, odd kernel when `up > 1`).
        styles: Per-sample input-channel scales $s$.
        demodulate: Normalise each output channel's per-sample weight to unit norm.
        up: 1, or 2 for a 2x upsampling convolution.
        padding: Zero padding of the convolution for `up = 1` (default $k // 2$: same size for
            odd $k$). Must be `None` for `up = 2`.
        impl: `"auto"`, `"grouped"` or `"scaled"`.
        eps: $\epsilon$ of the demodulation.
        up_taps: Unnormalised 1-D taps of the filter after the upsampling convolution.

    Returns:
        The output activations.
    """
    check_shape("x", x, (None, None, None, None))
    check_shape("weight", weight, (None, x.shape[1], None, None))
    check_shape("styles", styles, (x.shape[0], x.shape[1]))
    out_channels, in_channels, kh, kw = weight.shape
    if up not in (1, 2):
        raise ValueError(f"up must be 1 or 2, got {up}")
    if up > 1:
        if padding is not None:
            raise ValueError("padding must be None when up > 1: the output is always up * h")
        if kh != kw or kh % 2 == 0:
            raise ValueError(f"up > 1 needs a square kernel of odd size, got {kh}x{kw}")
        padding = 0
    elif padding is None:
        padding = kh // 2
    batch = x.shape[0]
    impl = resolve_modconv_impl(impl, x.device)

    if impl == "grouped":
        w = weight.unsqueeze(0) * styles.reshape(batch, 1, in_channels, 1, 1)
        if demodulate:
            w = w * torch.rsqrt(w.square().sum(dim=(2, 3, 4), keepdim=True) + eps)
        # one grouped conv over the whole batch, in the standard (NCHW) layout: with channels-last
        # weights, torch's grouped-conv backward on CPU returned wrong weight gradients
        y = _conv(
            _nchw(x.reshape(1, batch * in_channels, *x.shape[2:])),
            _nchw(w.reshape(batch * out_channels, in_channels, kh, kw)),
            up=up, padding=padding, groups=batch, up_taps=up_taps,
        )
        return y.reshape(batch, out_channels, *y.shape[2:])

    y = _conv(x * styles.reshape(batch, in_channels, 1, 1), weight, up=up, padding=padding,
              groups=1, up_taps=up_taps)
    if demodulate:
        energy = styles.square() @ weight.square().sum(dim=(2, 3)).transpose(0, 1)
        y = y * torch.rsqrt(energy + eps).reshape(batch, out_channels, 1, 1)
    return y


class ModulatedConv(nn.Module):
    r"""Style-modulated convolution with a learned weight (StyleGAN2's modulated conv).

    The weight $V$ is initialised from $\mathcal N(0, 1)$. With `demodulate=True` the forward
    is `modulated_conv2d(x, V, styles, demodulate=True, up=up)`, which does not depend on the
    scale of $V$. With `demodulate=False` the equalised-learning-rate gain
    $1/\sqrt{n_\text{in} k^2}$ is applied (to the styles, which is the same maths and cheaper),
    so that the forward equals

    $$y = \frac{V}{\sqrt{n_\text{in} k^2}} \star (s \odot x),$$

    i.e. `F.conv2d(x * styles[:, :, None, None], weight / sqrt(in_channels * k * k),
    padding=k // 2)` for `up=1`; with `styles == 1` this is a plain convolution.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Odd kernel size $k$.
        demodulate: Normalise each output channel's per-sample weight.
        up: 1, or 2 for a 2x upsampling convolution (output $2h \times 2w$).
        up_taps: Taps of the filter after an upsampling convolution (`FIR_TAPS`, StyleGAN's
            low-pass, or `NEAREST_TAPS`: nearest-neighbour upsampling).
        device: Device of the weight.
        dtype: Dtype of the weight.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        demodulate: bool = True,
        up: int = 1,
        up_taps: tuple[float, ...] = FIR_TAPS,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(
                f"in_channels and out_channels must be >= 1, got {in_channels}, {out_channels}"
            )
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {kernel_size}")
        if up not in (1, 2):
            raise ValueError(f"up must be 1 or 2, got {up}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.up = up
        self.up_taps = tuple(float(t) for t in up_taps)
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.weight = nn.Parameter(
            torch.randn(out_channels, in_channels, kernel_size, kernel_size,
                        device=device, dtype=dtype)
        )

    def forward(
        self,
        x: Float[Tensor, "b {self.in_channels} h w"],
        styles: Float[Tensor, "b {self.in_channels}"],
    ) -> Float[Tensor, "b {self.out_channels} h2 w2"]:
        check_shape("x", x, (None, self.in_channels, None, None))
        check_shape("styles", styles, (x.shape[0], self.in_channels))
        if not self.demodulate:
            styles = styles * self.weight_gain
        return modulated_conv2d(
            x, self.weight, styles, demodulate=self.demodulate, up=self.up, up_taps=self.up_taps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"demodulate={self.demodulate}, up={self.up}"
            + (f", up_taps={self.up_taps}" if self.up > 1 and self.up_taps != FIR_TAPS else "")
        )
