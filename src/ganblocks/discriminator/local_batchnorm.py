"""Local ("virtual") batch norm: batch statistics over small groups of samples."""

import torch
import torch.nn.functional as F
from torch import nn

from .._typing import Float, Tensor, check_shape

__all__ = ["local_batch_norm", "LocalBatchNorm"]


def _normalize_groups(x: Tensor, size: int, eps: float, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    # x holds consecutive groups of `size` samples; torch's batch norm (training mode, no running
    # statistics) normalises each group, seen as one batch whose channels are (group, channel)
    b, c, n = x.shape
    groups = b // size
    if size * n == 1:  # a single value per channel: normalises to 0
        y = torch.zeros_like(x)
        y = y if weight is None else y * weight[:, None]
        return y if bias is None else y + bias[:, None]
    if groups == 1:
        return F.batch_norm(x, None, None, weight, bias, training=True, eps=eps)
    xg = x.reshape(groups, size, c, n).transpose(0, 1).reshape(size, groups * c, n)
    w = None if weight is None else weight.repeat(groups)
    bb = None if bias is None else bias.repeat(groups)
    y = F.batch_norm(xg, None, None, w, bb, training=True, eps=eps)
    return y.reshape(size, groups, c, n).transpose(0, 1).reshape(b, c, n)


def local_batch_norm(
    x: Float[Tensor, "b c n"],
    *,
    virtual_batch: int = 8,
    eps: float = 1e-5,
    weight: Float[Tensor, " c"] | None = None,
    bias: Float[Tensor, " c"] | None = None,
) -> Float[Tensor, "b c n"]:
    """Batch norm whose statistics come from consecutive groups of ``virtual_batch`` samples.

    The batch is cut into consecutive groups $G$ of ``virtual_batch`` samples; when the batch
    size is not a multiple, the last group is smaller (a group of one sample normalises over its
    own tokens only). Per group and channel $c$,
    $$ \\mu_{G,c} = \\operatorname{mean}_{i \\in G,\\, t} x_{i,c,t}, \\qquad
       \\sigma^2_{G,c} = \\operatorname{mean}_{i \\in G,\\, t} (x_{i,c,t} - \\mu_{G,c})^2, $$
    $$ y_{i,c,t} = \\gamma_c \\, \\frac{x_{i,c,t} - \\mu_{G,c}}{\\sqrt{\\sigma^2_{G,c} + \\epsilon}}
       + \\beta_c . $$
    Samples in different groups never influence each other, and there are no running
    statistics: training and evaluation behave the same. Half-precision inputs (bf16, fp16) are
    normalised in float32 and returned in float32, so the statistics keep their precision.

    Args:
        x: Token features, channels first.
        virtual_batch: Samples per group.
        eps: Added to the variance (positive).
        weight: Per-channel scale $\\gamma$ (none: 1).
        bias: Per-channel shift $\\beta$ (none: 0).
    """
    check_shape("x", x, (None, None, None))
    if virtual_batch < 1:
        raise ValueError(f"virtual_batch must be at least 1, got {virtual_batch}")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
        weight = None if weight is None else weight.float()
        bias = None if bias is None else bias.float()
    b = x.shape[0]
    full = (b // virtual_batch) * virtual_batch
    parts = []
    if full:
        parts.append(_normalize_groups(x[:full], virtual_batch, eps, weight, bias))
    if full < b:
        parts.append(_normalize_groups(x[full:], b - full, eps, weight, bias))
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)


class LocalBatchNorm(nn.Module):
    """Batch norm over groups of ``virtual_batch`` samples, without running statistics.

    See [`local_batch_norm`][ganblocks.discriminator.local_batchnorm.local_batch_norm] for the
    maths and the handling of a batch size that is not a multiple of ``virtual_batch``.

    Args:
        num_features: Channels $c$ of the input ``[b, c, n]``.
        virtual_batch: Samples per group.
        eps: Added to the variance.
        affine: Learn a per-channel scale (init 1) and shift (init 0).
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        num_features: int,
        *,
        virtual_batch: int = 8,
        eps: float = 1e-5,
        affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if virtual_batch < 1:
            raise ValueError(f"virtual_batch must be at least 1, got {virtual_batch}")
        self.num_features = num_features
        self.virtual_batch = virtual_batch
        self.eps = eps
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features, device=device, dtype=dtype))
            self.bias = nn.Parameter(torch.zeros(num_features, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Float[Tensor, "b {self.num_features} n"]) -> Float[Tensor, "b {self.num_features} n"]:
        """Normalise ``x`` with the statistics of its group."""
        check_shape("x", x, (None, self.num_features, None))
        return local_batch_norm(
            x, virtual_batch=self.virtual_batch, eps=self.eps, weight=self.weight, bias=self.bias
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, virtual_batch={self.virtual_batch}, eps={self.eps}"
