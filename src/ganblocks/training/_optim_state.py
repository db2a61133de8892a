"""Optimizer state as tensors plus JSON, and its validation against a live optimizer.

``optimizer.state_dict()`` mixes tensors (Adam's moments, step counts) with plain values
(hyperparameters, flags). The tensors go to a safetensors file under ``state.{index}.{key}``
(and ``param_groups.{group}.{key}`` for a tensor hyperparameter); the rest, with the shape of
every parameter, goes to JSON. Reading back validates all of it before the optimizer is touched.
"""

from typing import Any

import torch

from .._typing import Tensor

_INFO_FIELDS = {"class", "param_groups", "state", "param_shapes"}


def check_json_value(value: Any, where: str) -> Any:
    """Return ``value`` with tuples as lists; raise ``ValueError`` naming ``where`` if not JSON."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [check_json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where} has a non-string key {k!r}; JSON keys must be strings")
            out[k] = check_json_value(v, f"{where}[{k!r}]")
        return out
    raise ValueError(f"{where} is a {type(value).__name__}, which JSON cannot hold")


def optimizer_to_parts(
    optimizer: torch.optim.Optimizer, name: str
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimizer's state into safetensors-ready tensors and a JSON-ready dict."""
    sd = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    groups = []
    for gi, group in enumerate(sd["param_groups"]):
        out = {}
        for key, value in group.items():
            if isinstance(value, Tensor):
                tensors[f"param_groups.{gi}.{key}"] = value
            else:
                where = f"optimizer {name!r} param_groups[{gi}][{key!r}]"
                out[key] = check_json_value(value, where)
        groups.append(out)
    state: dict[str, dict[str, Any]] = {}
    for index, entry in sd["state"].items():
        plain = {}
        for key, value in entry.items():
            if isinstance(value, Tensor):
                tensors[f"state.{index}.{key}"] = value
            else:
                plain[key] = check_json_value(value, f"optimizer {name!r} state[{index}][{key!r}]")
        state[str(index)] = plain
    params = [p for g in optimizer.param_groups for p in g["params"]]
    info = {
        "class": type(optimizer).__name__,
        "param_groups": groups,
        "state": state,
        "param_shapes": [list(p.shape) for p in params],
    }
    return tensors, info


def optimizer_from_parts(
    optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], info: Any
) -> dict[str, Any]:
    """Validate saved parts against ``optimizer`` and build the state dict it can load.

    Nothing is changed. Raises ``ValueError`` with the first mismatch found.
    """
    if not isinstance(info, dict) or set(info) != _INFO_FIELDS:
        got = sorted(info) if isinstance(info, dict) else type(info).__name__
        raise ValueError(f"the optimizer entry needs the fields {sorted(_INFO_FIELDS)}, not {got}")
    if info["class"] != type(optimizer).__name__:
        raise ValueError(
            f"it was saved from a {info['class']} optimizer, not a {type(optimizer).__name__}"
        )
    live_groups = optimizer.param_groups
    groups = info["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(live_groups):
        n = len(groups) if isinstance(groups, list) else "?"
        raise ValueError(f"it has {n} parameter group(s), the optimizer has {len(live_groups)}")
    params = [p for g in live_groups for p in g["params"]]
    shapes = info["param_shapes"]
    if not isinstance(shapes, list) or len(shapes) != len(params):
        n = len(shapes) if isinstance(shapes, list) else "?"
        raise ValueError(f"it holds {n} parameters, the optimizer has {len(params)}")
    for i, (shape, p) in enumerate(zip(shapes, params)):
        if shape != list(p.shape):
            raise ValueError(f"parameter {i} has shape {shape} in the file, {list(p.shape)} here")

    next_index = 0
    param_groups = []
    for gi, (group, live) in enumerate(zip(groups, live_groups)):
        if not isinstance(group, dict):
            raise ValueError(f"param_groups[{gi}] is not an object")
        indices = list(range(next_index, next_index + len(live["params"])))
        if group.get("params") != indices:
            raise ValueError(f"param_groups[{gi}]['params'] must be {indices}")
        next_index += len(indices)
        restored = {
            k: tuple(v) if isinstance(live.get(k), tuple) and isinstance(v, list) else v
            for k, v in group.items()
        }
        param_groups.append(restored)

    state: dict[int, dict[str, Any]] = {}
    raw_state = info["state"]
    if not isinstance(raw_state, dict):
        raise ValueError("'state' is not an object")
    for key, entry in raw_state.items():
        index = _index(key, len(params), "state")
        if not isinstance(entry, dict):
            raise ValueError(f"state[{key}] is not an object")
        state[index] = dict(entry)
    for name, tensor in tensors.items():
        kind, _, rest = name.partition(".")
        idx, _, key = rest.partition(".")
        if kind == "param_groups" and key:
            gi = _index(idx, len(param_groups), "param_groups")
            if key in param_groups[gi] or key == "params":
                raise ValueError(f"tensor {name!r} duplicates a JSON value")
            param_groups[gi][key] = tensor
        elif kind == "state" and key:
            index = _index(idx, len(params), "state")
            _check_state_shape(name, tensor, params[index])
            entry = state.setdefault(index, {})
            if key in entry:
                raise ValueError(f"tensor {name!r} duplicates a JSON value")
            entry[key] = tensor
        else:
            raise ValueError(f"unexpected tensor {name!r} (expected state.<i>.<key>)")
    return {"state": state, "param_groups": param_groups}


def _index(text: str, n: int, what: str) -> int:
    if not text.isdigit() or int(text) >= n:
        raise ValueError(f"{what} index {text!r} is not in [0, {n})")
    return int(text)


def _check_state_shape(name: str, tensor: Tensor, param: Tensor) -> None:
    # Per-parameter state is a scalar (step counts), the parameter's shape (moments), or a
    # factored reduction of it (size-1 axes, as in Adafactor).
    ok = tensor.ndim == 0 or (
        tensor.ndim == param.ndim
        and all(t in (p, 1) for t, p in zip(tensor.shape, param.shape))
    )
    if not ok:
        raise ValueError(
            f"tensor {name!r} has shape {list(tensor.shape)}, its parameter {list(param.shape)}"
        )
