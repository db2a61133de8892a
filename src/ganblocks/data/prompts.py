"""Evaluation prompt sets for ShapesT2I: captions split into seen and held-out compositions.

A caption is *held out* when at least one of its objects has a held-out (colour, shape) pair;
the training data (``compositions="seen"``) never renders such an object, so generating it is
compositional generalisation. Prompts are drawn uniformly without repetition from all captions
of each kind (repeating only when more are asked for than exist), deterministically from
``seed``.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .captions import caption_for
from .scene import CELLS, DEFAULT_HOLDOUT, validate_holdout
from .shapes import SceneSampler

__all__ = ["PromptKind", "PROMPT_KINDS", "EvalPrompt", "make_eval_prompts"]

PromptKind = Literal["single_seen", "single_heldout", "double_seen", "double_heldout"]
PROMPT_KINDS: tuple[str, ...] = ("single_seen", "single_heldout", "double_seen", "double_heldout")
"""The kinds of evaluation prompts, in the order ``make_eval_prompts`` returns them."""


@dataclass(frozen=True)
class EvalPrompt:
    """One evaluation caption and its kind.

    Args:
        caption: The caption.
        kind: ``"single_seen"``, ``"single_heldout"``, ``"double_seen"`` or ``"double_heldout"``.
    """

    caption: str
    kind: PromptKind


def _distinct(n: int, total: int, rng: np.random.Generator) -> list[int]:
    """``n`` indices in ``range(total)``, distinct when ``n <= total``, uniform, deterministic."""
    if n == 0:
        return []
    if 2 * n > total:  # a full random permutation, cycled when n > total
        order = np.argsort(rng.random(total), kind="stable")
        return [int(order[k % total]) for k in range(n)]
    chosen: list[int] = []
    seen: set[int] = set()
    while len(chosen) < n:
        for u in rng.random(n):
            k = int(u * total)
            if k not in seen and len(chosen) < n:
                seen.add(k)
                chosen.append(k)
    return chosen


def _captions(
    kind: str, n: int, holdout: frozenset[tuple[str, str]], rng: np.random.Generator
) -> list[str]:
    size, split = kind.split("_")
    sampler = SceneSampler(resolution=32, holdout=holdout, compositions=split)
    cells = list(CELLS)
    if size == "single":
        table = sampler.singles
        picks = _distinct(n, len(table) * 9, rng)
        return [caption_for([(*table[k // 9], cells[k % 9])]) for k in picks]
    table = sampler.doubles
    cell_pairs = [(a, b) for a in cells for b in cells if a != b]
    picks = _distinct(n, len(table) * len(cell_pairs), rng)
    out = []
    for k in picks:
        (p, q), (a, b) = table[k // len(cell_pairs)], cell_pairs[k % len(cell_pairs)]
        out.append(caption_for([(*p, a), (*q, b)]))
    return out


def make_eval_prompts(
    *,
    seed: int = 0,
    n_single_seen: int = 32,
    n_single_heldout: int = 16,
    n_double_seen: int = 32,
    n_double_heldout: int = 16,
    holdout: Iterable[tuple[str, str]] = DEFAULT_HOLDOUT,
) -> list[EvalPrompt]:
    """Make a deterministic evaluation prompt set.

    Single-object captions have one object; double-object captions two objects of distinct
    colours in distinct cells, like the data. ``*_seen`` captions use no held-out pair;
    ``*_heldout`` captions use at least one.

    Args:
        seed: Selects the prompts.
        n_single_seen: Number of one-object captions with a seen pair.
        n_single_heldout: Number of one-object captions with a held-out pair.
        n_double_seen: Number of two-object captions with seen pairs only.
        n_double_heldout: Number of two-object captions with at least one held-out pair.
        holdout: The held-out (colour, shape) pairs.

    Returns:
        The prompts grouped by kind in the order of ``PROMPT_KINDS``.
    """
    holdout = validate_holdout(holdout)
    counts = dict(zip(PROMPT_KINDS, (n_single_seen, n_single_heldout, n_double_seen, n_double_heldout)))
    prompts = []
    for number, (kind, n) in enumerate(counts.items()):
        if n < 0:
            raise ValueError(f"n_{kind} must be non-negative, got {n}")
        if n == 0:
            continue
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, number])))
        prompts += [EvalPrompt(caption=c, kind=kind) for c in _captions(kind, n, holdout, rng)]
    return prompts
