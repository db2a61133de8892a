"""How far an exported folder's graphs, run by ONNX Runtime, are from the PyTorch generator."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["check_parity"]


def check_parity(
    G: nn.Module,
    folder: str | Path,
    meta: dict[str, Any] | None = None,
    *,
    prompts: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    truncation_psi: Sequence[float] | None = None,
    atol: float | None = 1e-4,
) -> dict[str, Any]:
    """Run the folder's graphs with ONNX Runtime (CPU) and ``G`` eagerly on the same inputs.

    Each prompt is paired with a seed and a $\\psi$; the reference is ``G.encode(prompts)`` and,
    per image, ``G(z, c, truncation_psi=psi, noise_mode=..., update_avg=False)`` with ``z`` the
    seed's latent of ``G.generate``.

    Args:
        G: The generator the folder was exported from.
        folder: The exported folder.
        meta: Its ``model.json`` (default: read from the folder).
        prompts: Prompts (default: ``PARITY_PROMPTS``).
        seeds: One seed per prompt (default: 0, 1, ...).
        truncation_psi: One $\\psi$ per prompt (default: 0.7, 1.0, 0.7, ...).
        atol: Raise an ``ExportError`` when a difference is larger (``None``: never).

    Returns:
        ``max_abs_image`` and ``max_abs_text`` (largest absolute differences to PyTorch, text
        features over embedding and tokens; a mask that differs anywhere raises), the inputs
        and the ONNX Runtime version.
    """
    import onnxruntime

    from .onnx_export import PARITY_PROMPTS, ExportError
    from .onnx_runtime import OnnxTextToImage

    prompts = list(PARITY_PROMPTS if prompts is None else prompts)
    seeds = list(range(len(prompts)) if seeds is None else seeds)
    psi = list([0.7, 1.0] * len(prompts) if truncation_psi is None else truncation_psi)[:len(prompts)]
    runner = OnnxTextToImage(folder, meta=meta)
    G = G.eval()
    with torch.no_grad():
        ref_text = G.encode(prompts)
        text = runner.encode(prompts)
        z = torch.stack([runner.latent(s) for s in seeds])
        noise = runner.meta["noise_mode"]
        ref = torch.cat([G(z[i:i + 1], type(ref_text)(*(t[i:i + 1] for t in ref_text)), truncation_psi=psi[i],
                           noise_mode=noise, update_avg=False) for i in range(len(prompts))])
    images = runner.synthesize(z.numpy(), text, np.asarray(psi, dtype=np.float32))
    image_diff = float(np.abs(images - ref.numpy()).max())
    text_diff = float(np.abs(text["text_embedding"] - ref_text.embedding.numpy()).max())
    if "text_tokens" in text:
        text_diff = max(text_diff, float(np.abs(text["text_tokens"] - ref_text.tokens.numpy()).max()))
        if not np.array_equal(text["text_mask"], ref_text.mask.numpy()):
            raise ExportError("the text encoder graph's token mask differs from PyTorch's")
    if atol is not None and not (image_diff <= atol and text_diff <= atol):  # NaN fails too
        raise ExportError(
            f"the exported graphs differ from PyTorch by {image_diff:.3g} (images) and {text_diff:.3g} "
            f"(text features), more than atol={atol:g}: the export is wrong, not written as finished")
    return {"max_abs_image": image_diff, "max_abs_text": text_diff, "atol": atol, "prompts": prompts,
            "seeds": seeds, "truncation_psi": psi, "onnxruntime": onnxruntime.__version__}
