"""Checkpoints: atomic, pickle-free saving and validated loading of a training run's state.

A checkpoint is a folder ``run_dir/checkpoints/step-{step:09d}/`` holding one safetensors file
per network and per optimizer, the RNG tensors, and ``checkpoint.json`` (format version, step,
the optimizers' non-tensor state, RNG states, the caller's ``meta`` and the size and SHA-256 of
every file). It is written into a hidden temporary folder, flushed to disk, and renamed into
place; then ``checkpoints/latest`` is replaced atomically. Whatever moment the process dies at,
``latest`` names a complete checkpoint.
"""

import json
import os
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import _files, _layout
from ._layout import CHECKPOINTS, FORMAT, FORMAT_VERSION, JSON_FILE, LATEST, RNG_FILE
from ._layout import CheckpointError as CheckpointError
from ._optim_state import check_json_value, optimizer_from_parts, optimizer_to_parts
from .rng import RNGState, capture_rng_state, keep_python_random, restore_rng_state

__all__ = [
    "CheckpointError",
    "find_checkpoint",
    "load_checkpoint",
    "load_module_weights",
    "read_checkpoint_meta",
    "save_checkpoint",
]


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    *,
    step: int,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    meta: Mapping[str, Any],
    keep: int = 3,
    rng: bool = True,
) -> Path:
    """Save networks, optimizers, RNG states and metadata atomically as ``step-{step:09d}``.

    Everything is written into a hidden temporary folder beside the checkpoints, flushed
    (``fsync``) and renamed into place; ``checkpoints/latest`` is then replaced atomically. Only
    the ``keep`` highest steps are kept (never the one ``latest`` names). Saving a step that
    already exists replaces it, atomically too. One process at a time may save into a run.

    Args:
        run_dir: The run's folder; checkpoints go to ``run_dir/checkpoints/``.
        step: Training step, used in the folder name.
        modules: Networks by name (letters, digits, ``_ . -``); each full ``state_dict``
            (parameters and persistent buffers) goes to ``{name}.safetensors``.
        optimizers: Optimizers by name; tensors to ``optim-{name}.safetensors``, the rest to JSON.
        meta: JSON-serialisable data (config, counters), returned by
            [`load_checkpoint`][ganblocks.training.checkpoint.load_checkpoint].
        keep: How many checkpoints to keep, at least 1.
        rng: Also save every global RNG state (for exact resumption).

    Returns:
        The checkpoint's folder.

    Raises:
        ValueError: Bad arguments (names, ``step``, ``keep``, ``meta`` not JSON); nothing written.
        CheckpointError: Writing failed (read-only folder, disk full, ...); the previous
            checkpoint is intact and the temporary folder removed.
    """
    if step < 0 or keep < 1:
        raise ValueError(f"step must be >= 0 and keep >= 1, got step={step}, keep={keep}")
    _layout.check_names(list(modules), list(optimizers))
    meta = check_json_value(dict(meta), "meta")
    with keep_python_random():  # saving draws nothing, even under a type-checking hook
        files: dict[str, dict[str, torch.Tensor]] = {}
        for name, module in modules.items():
            files[f"{name}.safetensors"] = _module_tensors(name, module)
        optim_info = {}
        for name, optimizer in optimizers.items():
            tensors, optim_info[name] = optimizer_to_parts(optimizer, name)
            files[f"optim-{name}.safetensors"] = _to_cpu(tensors)
        rng_info = None
        if rng:
            rng_tensors, rng_info = capture_rng_state().to_parts()
            files[RNG_FILE] = _to_cpu(rng_tensors)
        from .. import __version__

        doc = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "step": step,
            "written_by": {"ganblocks": __version__, "torch": torch.__version__},
            "modules": list(modules),
            "optimizers": optim_info,
            "rng": rng_info,
            "meta": meta,
            "files": {},
        }
        return _write(Path(run_dir) / CHECKPOINTS, step, files, doc, keep)


def _write(root: Path, step: int, files: dict, doc: dict[str, Any], keep: int) -> Path:
    """Write a checkpoint into a temporary folder, publish it, prune; or fail leaving no trace."""
    final = root / f"step-{step:09d}"
    tmp = root / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        _layout.remove_stale(root)
        tmp.mkdir()
        for fname, tensors in files.items():
            _files.write_tensors(tmp / fname, tensors)
            size, sha = _files.file_digest(tmp / fname)
            doc["files"][fname] = {"bytes": size, "sha256": sha}
        _files.write_bytes(tmp / JSON_FILE, _dumps(doc).encode("utf-8"))
        _files.fsync_dir(tmp)
        _layout.publish(root, tmp, final)
    except BaseException as e:
        if tmp.exists() and _layout.latest_name(root) != tmp.name:
            try:
                _files.remove_tree(tmp)
            except OSError:
                pass  # removed by the next save
        if not isinstance(e, Exception):
            raise
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        previous = _layout.latest_name(root)
        raise CheckpointError(
            f"could not save checkpoint step {step} in {root}: {reason}. The previous checkpoint "
            f"({previous or 'none'}) is intact."
        ) from e
    _layout.prune(root, keep)
    _layout.remove_stale(root)
    return final


def _dumps(doc: dict[str, Any]) -> str:
    # Pretty JSON for people (meta, files), one line each for the machine state (optimizers, RNG).
    compact = {k: json.dumps(doc[k], allow_nan=True) for k in ("optimizers", "rng")}
    body = {k: f"\0{k}\0" if k in compact else v for k, v in doc.items()}
    text = json.dumps(body, indent=2, allow_nan=True)
    for k, v in compact.items():
        text = text.replace(json.dumps(f"\0{k}\0"), v, 1)
    return text


def find_checkpoint(path: str | os.PathLike[str]) -> Path:
    """Resolve a run folder, a ``checkpoints/`` folder or a step folder to one checkpoint folder.

    A run or ``checkpoints/`` folder resolves to the checkpoint ``latest`` names, or, if
    ``latest`` is missing or dangling, to the highest complete ``step-*`` folder.

    Args:
        path: The folder.

    Returns:
        The checkpoint's folder (it holds ``checkpoint.json``).
    """
    p = Path(path)
    if p.is_file() and p.name == JSON_FILE:
        p = p.parent
    if not p.is_dir():
        raise CheckpointError(f"no checkpoint at {p}: not an existing folder")
    if (p / JSON_FILE).is_file():
        return p
    root = p / CHECKPOINTS if (p / CHECKPOINTS).is_dir() else p
    name = _layout.latest_name(root)
    if name is not None:
        if (root / name / JSON_FILE).is_file():
            return root / name
        renamed = root / _layout.final_name(name)  # a save died just after renaming into place
        if (renamed / JSON_FILE).is_file():
            return renamed
        warnings.warn(
            f"{root / LATEST} names {name!r}, which is missing; using the newest step folder",
            stacklevel=2,
        )
    complete = [d for d in _layout.step_dirs(root) if (d / JSON_FILE).is_file()]
    if not complete:
        raise CheckpointError(
            f"no checkpoint found in {p}: expected a step folder with {JSON_FILE}, or a run "
            f"folder whose {CHECKPOINTS}/ holds one"
        )
    return complete[-1]


def read_checkpoint_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint's ``meta`` (config, counters) without loading any tensor.

    Args:
        path: A run folder, a ``checkpoints/`` folder or a step folder.

    Returns:
        The ``meta`` given to [`save_checkpoint`][ganblocks.training.checkpoint.save_checkpoint].
    """
    return _layout.read_doc(find_checkpoint(path))["meta"]


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    strict: bool = True,
    restore_rng: bool = True,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Validate a checkpoint completely, then load it into networks, optimizers and the RNGs.

    Nothing is changed until every file has been checked: present, size and SHA-256 as recorded,
    valid safetensors (pickles are refused unopened), tensor names and shapes matching each
    network, optimizer structure matching. Networks and optimizers not asked for are ignored, so
    a tool may load only ``{"G_ema": G}``.

    Args:
        path: A run folder (its ``latest`` checkpoint), a ``checkpoints/`` folder, or a step folder.
        modules: Networks to load, by the names they were saved under.
        optimizers: Optimizers to load, by name.
        strict: Require every requested name to be in the checkpoint and every network's keys to
            match exactly. When ``False``, absent names and keys are left as they are and extra
            keys ignored (with a warning); shape mismatches are always errors.
        restore_rng: Restore the global RNG states (needs a checkpoint saved with ``rng=True``).
        map_location: Device the networks' tensors are read to before being copied in
            (optimizer state goes where ``Optimizer.load_state_dict`` puts it).

    Returns:
        The checkpoint's ``meta``.

    Raises:
        CheckpointError: Naming the file and what is wrong; nothing was changed.
    """
    with keep_python_random():  # validating draws nothing, even under a type-checking hook
        folder = find_checkpoint(path)
        doc = _layout.read_doc(folder)
        for fname, record in doc["files"].items():
            _layout.verify_file(folder / fname, record)
        try:
            modules_sd, optims_sd, rng_state = _stage(
                folder, doc, modules, optimizers, strict, restore_rng, map_location
            )
        except _files.UnsafeFileError as e:
            raise CheckpointError(str(e)) from e
    for name, tensors in modules_sd.items():
        modules[name].load_state_dict(tensors, strict=False)
    for name, sd in optims_sd.items():
        optimizers[name].load_state_dict(sd)
    if rng_state is not None:
        restore_rng_state(rng_state)
    return doc["meta"]


def load_module_weights(
    path: str | os.PathLike[str],
    name: str,
    module: nn.Module,
    *,
    allow_missing_prefixes: tuple[str, ...] = (),
    map_location: str | torch.device = "cpu",
) -> list[str]:
    """Load one saved network into ``module``, which may have more parts (a grown network).

    The file is validated as by [`load_checkpoint`][ganblocks.training.checkpoint.load_checkpoint]
    (recorded size and SHA-256, safetensors only). Every saved tensor must exist in ``module``
    with the same shape; ``module`` keys absent from the file must start with one of
    ``allow_missing_prefixes`` and keep their current values. This is how a higher-resolution
    generator takes over the blocks of a trained lower-resolution one.

    Args:
        path: A run folder, a ``checkpoints/`` folder or a step folder.
        name: The network's name in the checkpoint (``"G_ema"``).
        module: The network to load into.
        allow_missing_prefixes: State-dict key prefixes that may be absent from the file.
        map_location: Device the tensors are read to before being copied in.

    Returns:
        The keys of ``module`` left as they were (absent from the file), sorted.

    Raises:
        CheckpointError: A damaged file, or keys or shapes that do not fit; nothing changed.
    """
    with keep_python_random():
        folder = find_checkpoint(path)
        doc, fpath = _layout.read_doc(folder), folder / f"{name}.safetensors"
        if name not in doc["modules"]:
            raise CheckpointError(f"{folder} has no network {name!r}; it holds {sorted(doc['modules'])}")
        _layout.verify_file(fpath, doc["files"][fpath.name])
        try:
            tensors = _files.read_tensors(fpath, map_location)
        except _files.UnsafeFileError as e:
            raise CheckpointError(str(e)) from e
    missing, unexpected, mismatched = _differences(tensors, module.state_dict())
    refused = [k for k in missing if not k.startswith(tuple(allow_missing_prefixes))]
    problems = [f"{what} {_short(keys)}" for what, keys in (
        ("missing keys", refused), ("unexpected keys", unexpected), ("shape mismatches", mismatched)
    ) if keys]
    if problems:
        raise CheckpointError(f"{fpath} does not fit network {name!r}: {'; '.join(problems)}")
    module.load_state_dict(tensors, strict=False)
    return missing


def _stage(folder, doc, modules, optimizers, strict, restore_rng, map_location):
    """Read and validate everything asked for; change nothing."""
    modules_sd, optims_sd, skipped = {}, {}, []
    for name, module in modules.items():
        if name not in doc["modules"]:
            _absent(strict, folder, "network", name, doc["modules"], skipped)
            continue
        fpath = folder / f"{name}.safetensors"
        tensors = _files.read_tensors(fpath, map_location)
        skipped += _match_module(fpath, name, module, tensors, strict)
        modules_sd[name] = tensors
    for name, optimizer in optimizers.items():
        if name not in doc["optimizers"]:
            _absent(strict, folder, "optimizer", name, list(doc["optimizers"]), skipped)
            continue
        fpath = folder / f"optim-{name}.safetensors"
        # Read to the CPU: torch's load_state_dict moves each state to its parameter's device
        # and keeps Adam's step counts on the CPU, where a fresh optimizer has them.
        tensors = _files.read_tensors(fpath, "cpu")
        try:
            optims_sd[name] = optimizer_from_parts(optimizer, tensors, doc["optimizers"][name])
        except ValueError as e:
            raise CheckpointError(f"{fpath} does not fit optimizer {name!r}: {e}") from e
    rng_state = None
    if restore_rng:
        if doc["rng"] is None:
            raise CheckpointError(
                f"{folder} was saved without RNG states (rng=False); pass restore_rng=False"
            )
        tensors = _files.read_tensors(folder / RNG_FILE)
        try:
            rng_state = RNGState.from_parts(tensors, doc["rng"])
        except ValueError as e:
            raise CheckpointError(f"{folder / RNG_FILE} / {JSON_FILE} 'rng': {e}") from e
    if skipped:
        warnings.warn(f"loading {folder} non-strictly: " + "; ".join(skipped), stacklevel=4)
    return modules_sd, optims_sd, rng_state


def _absent(strict, folder, kind, name, present, skipped) -> None:
    if strict:
        raise CheckpointError(
            f"{folder} has no {kind} {name!r}; it holds {sorted(present)}",
            python_hint="Pass the names it was saved under, or strict=False to skip it"
        )
    skipped.append(f"no {kind} {name!r}, left unchanged")


def _differences(tensors, expected) -> tuple[list[str], list[str], list[str]]:
    """Missing keys, unexpected keys and shape mismatches of a file against a state dict."""
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    mismatched = [
        f"{k}: file {list(tensors[k].shape)} vs network {list(expected[k].shape)}"
        for k in sorted(set(tensors) & set(expected))
        if tuple(tensors[k].shape) != tuple(expected[k].shape)
    ]
    return missing, unexpected, mismatched


def _match_module(fpath, name, module, tensors, strict) -> list[str]:
    missing, unexpected, mismatched = _differences(tensors, module.state_dict())
    problems = []
    if missing:
        problems.append(f"missing keys {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_short(unexpected)}")
    if mismatched or (strict and problems):
        if mismatched:
            problems.append(f"shape mismatches {_short(mismatched)}")
        raise CheckpointError(
            f"{fpath} does not fit network {name!r}: {'; '.join(problems)}",
            python_hint="Build the network with the config the checkpoint was saved with "
            "(read_checkpoint_meta), or pass strict=False to skip missing and unexpected keys"
        )
    for k in unexpected:
        del tensors[k]
    return [f"{name}: {p}" for p in problems]


def _short(items: list[str], n: int = 8) -> str:
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return "[" + ", ".join(items[:n]) + "]" + more


def _module_tensors(name: str, module: nn.Module) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in module.state_dict().items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"network {name!r} has a non-tensor state entry {key!r} (extra state), which "
                "safetensors cannot hold"
            )
        out[key] = value
    return _to_cpu(out)


def _to_cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # Tensors that share memory (tied weights) are written as separate copies.
    out, seen = {}, set()
    for key, t in tensors.items():
        t = t.detach().to("cpu").contiguous()
        ptr = t.untyped_storage().data_ptr()
        out[key] = t.clone() if ptr in seen and t.numel() else t
        seen.add(ptr)
    return out


