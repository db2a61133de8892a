"""Write a text-to-image generator as two ONNX graphs and a ``model.json`` that says how to run them.

The folder ``export_onnx`` writes (format version 1):

- ``text_encoder.onnx``: ``input_ids`` (int64 ``[batch, context_length]``, open_clip's
  ``SimpleTokenizer``) to ``text_embedding`` and, when the generator attends to words,
  ``text_tokens`` and ``text_mask``;
- ``generator.onnx``: ``z``, those text outputs under the same names and ``truncation_psi``
  (one per image) to ``image`` (raw float32 ``[batch, 3, R, R]``, about $[-1, 1]$);
- ``model.json``: resolution, latent size, default $\\psi$, tokenizer, input and output names
  with shapes and dtypes, opset, exporter, ganblocks version and format version, the
  architecture, what the model card says about training, and the parity measured against
  PyTorch when the folder was written.

Graphs are exported by PyTorch's dynamo-based exporter (``torch.onnx.export(..., dynamo=True)``)
at opset 18, with a dynamic batch, and are checked against the PyTorch generator with ONNX
Runtime before ``model.json`` is written: a folder without ``model.json`` is not a finished
export.
"""

import contextlib
import copy
import io
import json
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .graphs import IMAGE, GeneratorGraph, TextEncoderGraph, generator_input_names, text_output_names

__all__ = ["export_onnx", "ExportError", "FORMAT", "FORMAT_VERSION", "OPSET", "TEXT_ENCODER_FILE",
           "GENERATOR_FILE", "MODEL_JSON", "PARITY_PROMPTS"]

FORMAT = "ganblocks-onnx"
FORMAT_VERSION = 1
OPSET = 18
TEXT_ENCODER_FILE = "text_encoder.onnx"
GENERATOR_FILE = "generator.onnx"
MODEL_JSON = "model.json"
_EXTERNAL_BYTES = 1_800_000_000  # above this a graph keeps its weights in a ``.data`` file (ONNX's 2 GB limit)

PARITY_PROMPTS = ("a red circle", "two small blue squares at the top left, a green triangle below them")
"""Prompts of the check run after export (of different lengths, so that the padding differs)."""


class ExportError(RuntimeError):
    """A generator that cannot be exported, or whose graphs do not compute what it computes."""


def _exporter_name() -> str:
    return f"torch.onnx.export(dynamo=True), torch {torch.__version__.split('+')[0]}"


def _check_exportable(G: nn.Module) -> None:
    from ..t2i.generator import TextToImageGenerator

    if not isinstance(G, TextToImageGenerator):
        raise ExportError(f"export_onnx takes a ganblocks TextToImageGenerator, got {type(G).__name__}")
    tokenizer = getattr(G.text_encoder, "tokenizer", None)
    if type(tokenizer).__name__ != "SimpleTokenizer" or getattr(tokenizer, "reduction_fn", None) is not None:
        raise ExportError(
            f"the text encoder's tokenizer is {type(tokenizer).__name__}: model.json describes open_clip's "
            "SimpleTokenizer (CLIP's BPE, truncating), which a deployment can run without ganblocks; "
            "other tokenizers are not supported")
    bad = sorted({str(t.dtype) for t in G.state_dict().values() if t.is_floating_point() and t.dtype != torch.float32})
    if bad:  # exporting a float32 copy would not measure what this generator computes
        raise ExportError(f"the generator holds {', '.join(bad)} tensors; export a float32 one: G.float()")


@contextlib.contextmanager
def _tracing() -> Iterator[None]:
    """Quiet the exporter (its progress lines and warnings) and switch off jaxtyping's runtime
    checks while it traces: its shapes are symbolic, which the checks' hints do not admit."""
    import jaxtyping

    out, previous = io.StringIO(), jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            warnings.simplefilter("ignore")
            yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", previous)


def _root_cause(err: BaseException) -> str:
    """The first line of the innermost exception: what the exporter could not handle."""
    while err.__cause__ is not None:
        err = err.__cause__
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


# optimize=False: onnxscript's graph optimizer (0.7) drops the ``Add`` of the 1e-8 in the
# mapping's z / sqrt(mean(z^2) + 1e-8), so a zero latent (z_dim 2 with output_shift) gave NaN.
# ONNX Runtime optimises the graph itself when it loads it.
def _export(module: nn.Module, args: tuple[Tensor, ...], path: Path, *, input_names: list[str],
            output_names: list[str], dynamic: tuple[dict[int, Any], ...], what: str) -> None:
    try:
        with _tracing():
            program = torch.onnx.export(module, args, None, dynamo=True, opset_version=OPSET,
                                        input_names=input_names, output_names=output_names,
                                        dynamic_shapes=dynamic, optimize=False)
    except Exception as err:  # the exporter's errors have many types; the innermost says what failed
        raise ExportError(f"the dynamo exporter could not export the {what}: {_root_cause(err)}") from err
    size = sum(p.numel() * p.element_size() for p in module.parameters())
    for stale in (path, path.with_name(path.name + ".data")):
        stale.unlink(missing_ok=True)
    if size > _EXTERNAL_BYTES:
        program.save(str(path), external_data=True)
        return
    import onnx

    model = _cast_like_to_cast(program.model_proto)
    onnx.save(model, str(path))


def _cast_like_to_cast(model: Any) -> Any:
    """``CastLike(x, y)`` nodes as ``Cast(x, to=dtype of y)``: the same values, and a graph that
    ONNX Runtime constant-folds without a warning per node (it has no CPU kernel to fold
    ``CastLike`` with). Nodes whose ``y`` has no inferred dtype are kept."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    dtypes = {v.name: v.type.tensor_type.elem_type for v in [*graph.value_info, *graph.input, *graph.output]}
    dtypes.update({t.name: t.data_type for t in graph.initializer})
    for node in model.graph.node:
        to = dtypes.get(node.input[1], 0) if node.op_type == "CastLike" and len(node.input) == 2 else 0
        if to:
            node.op_type = "Cast"
            del node.input[1]
            node.ClearField("attribute")
            node.attribute.append(onnx.helper.make_attribute("to", to))
    return model


def _io(names: list[str], arrays: Sequence[Tensor], shapes: dict[str, list[Any]]) -> dict[str, Any]:
    dtypes = {torch.float32: "float32", torch.int64: "int64", torch.bool: "bool"}
    return {n: {"dtype": dtypes[a.dtype], "shape": shapes[n]} for n, a in zip(names, arrays)}


def export_onnx(
    G: nn.Module,
    folder: str | os.PathLike,
    *,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    verify: bool = True,
    atol: float = 1e-4,
) -> dict[str, Any]:
    """Export ``G`` to ``folder``: ``text_encoder.onnx``, ``generator.onnx`` and ``model.json``.

    The graphs run ``G.generate``'s computation: ``G.encode`` on token ids, then
    ``G(z, c, truncation_psi=psi, noise_mode="const", update_avg=False)`` with one $\\psi$ per
    image. ``G`` is not changed (a CPU copy is exported).

    Args:
        G: A float32 [`TextToImageGenerator`][ganblocks.t2i.generator.TextToImageGenerator].
        folder: Where to write (created; the three files are replaced).
        truncation_psi: The $\\psi$ that ``model.json`` records as the default.
        noise_mode: ``"const"`` (``G.generate``'s fixed noise) or ``"none"``.
        verify: Run both graphs with ONNX Runtime on two prompts and compare with PyTorch
            before writing ``model.json`` (needs ``onnxruntime``).
        atol: Largest absolute difference ``verify`` accepts, on images and text features.

    Returns:
        What ``model.json`` holds.

    Raises:
        ExportError: ``G`` cannot be exported (the message says why), or the graphs'
            outputs differ from PyTorch's by more than ``atol``.
        ValueError: A ``truncation_psi`` that is not finite, or an unknown ``noise_mode``.
    """
    if not isinstance(truncation_psi, (int, float)) or isinstance(truncation_psi, bool) or not math.isfinite(truncation_psi):
        raise ValueError(f"truncation_psi must be a finite number, got {truncation_psi!r}")
    _check_exportable(G)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file; pass a folder to write the graphs into")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_JSON).unlink(missing_ok=True)  # the folder is unfinished until it is rewritten

    with torch.random.fork_rng(devices=[]):
        model = copy.deepcopy(G).cpu().eval().requires_grad_(False)
    text_graph, gen_graph = TextEncoderGraph(model), GeneratorGraph(model, noise_mode=noise_mode)  # type: ignore[arg-type]
    uses_tokens = bool(model.uses_tokens)
    tokenizer = model.text_encoder.tokenizer
    context = int(model.text_encoder.context_length)
    ids = tokenizer(list(PARITY_PROMPTS))
    batch = torch.export.Dim("batch", min=1, max=65536)
    text_names, gen_names = text_output_names(uses_tokens), generator_input_names(uses_tokens)
    with torch.no_grad():
        text_out = text_graph(ids)
        gen = torch.Generator().manual_seed(0)
        z = torch.randn(len(PARITY_PROMPTS), model.z_dim, generator=gen)
        psi = torch.tensor([0.7, 1.0])
        feats = dict(zip(text_names, text_out))
        gen_args = (z, feats["text_embedding"], psi, *(feats[n] for n in text_names[1:]))
    _export(text_graph, (ids,), folder / TEXT_ENCODER_FILE, input_names=["input_ids"], output_names=text_names,
            dynamic=({0: batch},), what="text encoder")
    _export(gen_graph, gen_args, folder / GENERATOR_FILE, input_names=gen_names, output_names=[IMAGE],
            dynamic=tuple({0: batch} for _ in gen_args), what="generator")

    r, width = model.resolution, model.text_encoder.token_dim
    shapes = {"input_ids": ["batch", context], "text_embedding": ["batch", model.c_dim],
              "text_tokens": ["batch", context, width], "text_mask": ["batch", context],
              "z": ["batch", model.z_dim], "truncation_psi": ["batch"], IMAGE: ["batch", 3, r, r]}
    from .. import __version__

    meta: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "ganblocks_version": __version__,
        "exporter": _exporter_name(), "opset": OPSET,
        "resolution": r, "z_dim": model.z_dim, "c_dim": model.c_dim, "uses_tokens": uses_tokens,
        "truncation_psi": float(truncation_psi), "noise_mode": noise_mode,
        "latents": "z ~ N(0, I); ganblocks draws seed s's as torch.randn(z_dim, generator=torch.Generator().manual_seed(s))",
        "image": "raw float32, about [-1, 1]: clamp, then (x + 1) * 127.5 for uint8 pixels",
        "tokenizer": {"library": "open_clip", "class": "SimpleTokenizer", "context_length": context,
                      "vocab_size": int(tokenizer.vocab_size), "sot_token_id": int(tokenizer.sot_token_id),
                      "eot_token_id": int(tokenizer.eot_token_id), "text_encoder": model.config.text_encoder,
                      "too_long": "refuse prompts of more than context_length tokens, start and end included"},
        "text_encoder": {"file": TEXT_ENCODER_FILE, "inputs": _io(["input_ids"], [ids], shapes),
                         "outputs": _io(text_names, text_out, shapes)},
        "generator": {"file": GENERATOR_FILE, "inputs": _io(gen_names, gen_args, shapes),
                      "outputs": _io([IMAGE], [z.new_zeros(())], shapes)},
        "config": model.config.to_dict(),
        "training": json.loads(json.dumps(getattr(G, "training_info", {}), default=str)),
    }
    if verify:
        from .parity import check_parity

        meta["parity"] = check_parity(model, folder, meta, atol=atol)
    (folder / MODEL_JSON).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
