"""Run a folder written by ``export_onnx`` with ONNX Runtime: prompts and seeds in, images out.

[`OnnxTextToImage`][ganblocks.export.onnx_runtime.OnnxTextToImage] checks the folder before it
runs anything (a missing or unreadable file, a ``model.json`` of another format version, graphs
whose inputs are not the ones ``model.json`` names: one ``ValueError`` or
``FileNotFoundError`` that says which), and every call's inputs (an empty batch, a prompt
longer than the text encoder's context, a non-finite $\\psi$). PyTorch is used only to draw a
seed's latent, so that seed ``s`` gives the image ``G.generate`` gives.
"""

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .onnx_export import FORMAT, FORMAT_VERSION, MODEL_JSON

__all__ = ["OnnxTextToImage", "read_model_json"]

_KEYS = ("resolution", "z_dim", "truncation_psi", "tokenizer", "text_encoder", "generator", "noise_mode")


def read_model_json(folder: str | Path) -> dict[str, Any]:
    """The ``model.json`` of an exported folder, checked for format and version.

    Raises:
        FileNotFoundError: No folder, or no ``model.json`` in it.
        ValueError: Not JSON, not this format, a newer format version, or missing fields.
    """
    folder = Path(folder)
    path = folder / MODEL_JSON
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; pass the folder that export_onnx wrote")
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no {MODEL_JSON}: it is not a finished ONNX export "
                                "(write one with generate.py --export-onnx or ganblocks.export.export_onnx)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); export the model again") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} does not describe a ganblocks ONNX export (format {FORMAT!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        from .. import __version__

        raise ValueError(
            f"{path} has format version {version!r} (written by ganblocks {meta.get('ganblocks_version', '?')}); "
            f"this ganblocks ({__version__}) reads format version {FORMAT_VERSION}: export the model again "
            "with this ganblocks, or run it with the ganblocks that wrote it")
    missing = [k for k in _KEYS if k not in meta]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}; export the model again")
    return meta


class OnnxTextToImage:
    """The exported text encoder and generator in two ONNX Runtime sessions.

    Args:
        folder: A folder written by [`export_onnx`][ganblocks.export.onnx_export.export_onnx].
        threads: Intra-op threads of each session (default: ONNX Runtime's choice, all cores).
        spinning: Let idle threads spin-wait for work (ONNX Runtime's own default): a little
            faster on an idle machine, much slower where other processes or threads share the
            cores (a server beside its event loop and PNG encoding; measured in the docs).
        meta: Its ``model.json``, when already read.

    Raises:
        FileNotFoundError: A missing folder, ``model.json`` or graph.
        ValueError: A ``model.json`` of another format, or a graph that ONNX Runtime cannot
            load or whose inputs and outputs are not those ``model.json`` names.
    """

    def __init__(self, folder: str | Path, *, threads: int | None = None, spinning: bool = False,
                 meta: dict[str, Any] | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ImportError("running an exported model needs onnxruntime: pip install 'ganblocks[export]'") from err
        self.folder = Path(folder)
        self.meta = read_model_json(self.folder) if meta is None else meta
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        self.text_session = self._session(ort, options, "text_encoder")
        self.generator_session = self._session(ort, options, "generator")
        tok = self.meta["tokenizer"]
        self.context_length = int(tok["context_length"])
        self.resolution = int(self.meta["resolution"])
        self.z_dim = int(self.meta["z_dim"])
        self.truncation_psi = float(self.meta["truncation_psi"])
        self.text_names = list(self.meta["text_encoder"]["outputs"])
        self.uses_tokens = "text_tokens" in self.text_names
        from open_clip.tokenizer import SimpleTokenizer

        self.tokenizer = SimpleTokenizer(context_length=self.context_length)

    def _session(self, ort: Any, options: Any, part: str) -> Any:
        spec = self.meta[part]
        path = self.folder / spec["file"]
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: the export in {self.folder} is incomplete; export it again")
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # ONNX Runtime raises its own Fail / InvalidGraph / ... types
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ValueError(f"{path} is not a readable ONNX graph ({first}); export the model again") from None
        got_in = sorted(i.name for i in session.get_inputs())
        got_out = sorted(o.name for o in session.get_outputs())
        if got_in != sorted(spec["inputs"]) or got_out != sorted(spec["outputs"]):
            raise ValueError(
                f"{path} takes {got_in} and gives {got_out}, but {MODEL_JSON} says {sorted(spec['inputs'])} and "
                f"{sorted(spec['outputs'])}: the graph comes from another export; export the model again")
        return session

    def prompt_tokens(self, prompt: str) -> int:
        """Tokens ``prompt`` takes in the context, start and end included."""
        return len(self.tokenizer.encode(prompt)) + 2

    def tokenize(self, prompts: Sequence[str]) -> np.ndarray:
        """Token ids ``[b, context_length]`` (int64) of ``prompts``.

        Raises:
            TypeError: Not a non-empty sequence of strings.
            ValueError: A prompt that is not valid Unicode text (a lone surrogate), or that
                takes more tokens than the context holds (CLIP's tokenizer would cut it).
        """
        if isinstance(prompts, str) or not isinstance(prompts, Sequence) or not prompts \
                or not all(isinstance(p, str) for p in prompts):
            raise TypeError("prompts must be a non-empty sequence of strings (wrap one prompt: [prompt])")
        for p in prompts:
            try:
                p.encode("utf-8")
            except UnicodeEncodeError as err:
                raise ValueError(f"prompt {p[:40]!r} is not valid Unicode text: {err.reason} at character "
                                 f"{err.start}") from None
            n = self.prompt_tokens(p)
            if n > self.context_length:
                raise ValueError(f"prompt {p[:40]!r}... is too long: {n} tokens, the text encoder reads at most "
                                 f"{self.context_length}")
        return self.tokenizer(list(prompts)).numpy().astype(np.int64)

    def encode(self, prompts: Sequence[str]) -> dict[str, np.ndarray]:
        """The text encoder graph's outputs for ``prompts``, by name (what ``synthesize`` reads)."""
        outputs = self.text_session.run(self.text_names, {"input_ids": self.tokenize(prompts)})
        return dict(zip(self.text_names, outputs))

    def latent(self, seed: int) -> Any:
        """Seed ``seed``'s latent ``[z_dim]`` (a torch tensor): the ``z`` of ``G.generate``."""
        import torch

        return torch.randn(self.z_dim, generator=torch.Generator().manual_seed(int(seed)))

    def synthesize(self, z: np.ndarray, text: dict[str, np.ndarray],
                   truncation_psi: float | Sequence[float] | np.ndarray | None = None) -> np.ndarray:
        """Raw images ``[b, 3, R, R]`` (float32, about $[-1, 1]$) for latents ``[b, z_dim]``, text
        features of ``b`` prompts (``encode``'s) and one $\\psi$ or one per image.

        Raises:
            ValueError: An empty batch, shapes that do not match, or a $\\psi$ that is not finite.
        """
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z has shape {list(z.shape)}, expected [batch, {self.z_dim}]")
        b = z.shape[0]
        if b == 0:
            raise ValueError("the batch is empty: pass at least one latent")
        psi = np.asarray(self.truncation_psi if truncation_psi is None else truncation_psi, dtype=np.float32)
        if psi.ndim == 0:
            psi = np.full(b, psi, dtype=np.float32)
        if psi.shape != (b,):
            raise ValueError(f"truncation_psi has shape {list(psi.shape)}, expected one value or {b}")
        if not np.isfinite(psi).all():
            raise ValueError(f"truncation_psi must be finite, got {psi.tolist()}")
        feeds: dict[str, np.ndarray] = {"z": z, "truncation_psi": psi}
        for name in self.text_names:
            if name not in text:
                raise ValueError(f"text lacks {name!r}: pass the dict that encode returns")
            value = np.asarray(text[name])
            if value.shape[:1] != (b,):
                raise ValueError(f"{name} has batch {value.shape[:1]}, z has {b}: pass one prompt per latent")
            feeds[name] = value
        return self.generator_session.run(["image"], feeds)[0]

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], *,
                 truncation_psi: float | None = None) -> np.ndarray:
        """One image per (prompt, seed) pair, as ``G.generate``: raw float32 ``[b, 3, R, R]``."""
        if isinstance(prompts, str):
            raise TypeError("prompts must be a sequence of strings, got one str; wrap it: [prompt]")
        if len(prompts) != len(seeds):
            raise ValueError(f"got {len(prompts)} prompts and {len(seeds)} seeds; pass one seed per prompt")
        if truncation_psi is not None and not math.isfinite(truncation_psi):
            raise ValueError(f"truncation_psi must be finite, got {truncation_psi!r}")
        text = self.encode(prompts)
        z = np.stack([self.latent(s).numpy() for s in seeds]) if len(seeds) else np.zeros((0, self.z_dim), np.float32)
        return self.synthesize(z, text, truncation_psi)

    def __repr__(self) -> str:
        return (f"OnnxTextToImage({str(self.folder)!r}, resolution={self.resolution}, z_dim={self.z_dim}, "
                f"uses_tokens={self.uses_tokens})")
