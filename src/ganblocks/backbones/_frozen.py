"""Keep a frozen submodule out of its parent's ``state_dict()`` while it still moves with ``.to()``."""

from functools import partial

from torch import nn

__all__ = ["exclude_from_state_dict"]


def _drop(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict, *, name: str) -> None:
    # state_dict() post-hook: remove the submodule's entries (and their metadata)
    key = f"{prefix}{name}."
    for k in [k for k in state_dict if k.startswith(key)]:
        del state_dict[k]
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        for k in [k for k in metadata if k == key[:-1] or k.startswith(key)]:
            del metadata[k]


def _keep(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict, strict: bool,
          missing_keys: list, unexpected_keys: list, error_msgs: list, *, name: str) -> None:
    # load_state_dict() pre-hook: entries for the submodule in the file are unexpected and never
    # loaded; the submodule is handed its own tensors, so it is neither missing nor changed
    key = f"{prefix}{name}."
    given = [k for k in state_dict if k.startswith(key)]
    unexpected_keys.extend(given)
    for k in given:
        del state_dict[k]
    for k, value in getattr(module, name).state_dict(keep_vars=True).items():
        state_dict[key + k] = value


def exclude_from_state_dict(module: nn.Module, name: str) -> None:
    """Leave ``module.<name>`` out of ``module``'s saved and loaded state.

    The submodule stays registered (``.to()``, ``.cuda()``, ``.half()`` move it), but a
    ``state_dict()`` post-hook drops its ``<name>.*`` entries and a ``load_state_dict()`` pre-hook
    hands it its own tensors, so loading neither reports them missing nor changes them. Entries
    for it in a file are reported as unexpected (an error under ``strict=True``) and not loaded.
    The hooks see the full key prefix, so this holds wherever ``module`` sits in a larger model.
    """
    if not isinstance(getattr(module, name, None), nn.Module):
        raise ValueError(f"{type(module).__name__} has no submodule {name!r}")
    module.register_state_dict_post_hook(partial(_drop, name=name))
    module.register_load_state_dict_pre_hook(partial(_keep, name=name))
