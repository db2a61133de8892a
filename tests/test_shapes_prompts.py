from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganblocks.data import DEFAULT_HOLDOUT, PROMPT_KINDS, make_eval_prompts, parse_caption
from strategies import seeds


def _held(caption, holdout=DEFAULT_HOLDOUT):
    return sum((c, s) in holdout for c, s, _ in parse_caption(caption))


@given(seed=seeds, n=st.integers(0, 12))
def test_prompts_have_the_asked_kinds_counts_and_compositions(seed, n):
    prompts = make_eval_prompts(
        seed=seed, n_single_seen=n, n_single_heldout=n // 2, n_double_seen=n, n_double_heldout=3
    )
    counts = Counter(p.kind for p in prompts)
    assert counts == Counter(
        {k: v for k, v in zip(PROMPT_KINDS, (n, n // 2, n, 3)) if v}
    )
    assert [p.kind for p in prompts] == sorted((p.kind for p in prompts), key=PROMPT_KINDS.index)
    for p in prompts:
        objects = parse_caption(p.caption)
        size, split = p.kind.split("_")
        assert len(objects) == (1 if size == "single" else 2)
        assert (_held(p.caption) > 0) == (split == "heldout")
        assert len({c for c, _, _ in objects}) == len({cell for _, _, cell in objects}) == len(objects)
    by_kind = {}
    for p in prompts:
        by_kind.setdefault(p.kind, []).append(p.caption)
    assert all(len(set(v)) == len(v) for v in by_kind.values())  # no repeats when enough exist


@given(seed=seeds)
def test_prompts_are_deterministic_and_depend_on_the_seed(seed):
    a = make_eval_prompts(seed=seed)
    assert a == make_eval_prompts(seed=seed)
    assert a != make_eval_prompts(seed=seed + 1)


def test_all_prompts_of_a_kind_appear_before_any_repeats():
    # 3 held-out pairs x 9 cells = 27 distinct one-object held-out captions
    prompts = make_eval_prompts(n_single_seen=0, n_single_heldout=30, n_double_seen=0, n_double_heldout=0)
    captions = [p.caption for p in prompts]
    assert len(set(captions[:27])) == 27 and set(captions[27:]) <= set(captions[:27])


def test_custom_holdout_and_bad_counts():
    holdout = {("red", "circle")}
    prompts = make_eval_prompts(holdout=holdout, n_single_heldout=9, n_double_heldout=20)
    for p in prompts:
        assert (_held(p.caption, holdout) > 0) == p.kind.endswith("heldout")
    with pytest.raises(ValueError, match="n_double_seen"):
        make_eval_prompts(n_double_seen=-1)
