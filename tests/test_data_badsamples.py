"""BadSampleLog: distinct skipped samples by reason, the first names kept and logged."""

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganblocks.data import BadSample, BadSampleLog

reasons = st.sampled_from(["corrupt_image", "empty_file", "missing_caption"])
events = st.lists(st.tuples(reasons, st.integers(0, 6)), max_size=40)


@given(events=events, max_names=st.integers(0, 4))
def test_counts_are_distinct_samples_and_names_are_the_first_met(events, max_names):
    log = BadSampleLog(max_names=max_names, log=False)
    for reason, i in events:
        log.add(BadSample(reason, f"file{i}.png"))
    expected = {r: len({i for rr, i in events if rr == r}) for r, _ in events}
    assert log.counts() == expected
    assert len(log) == sum(expected.values())
    assert list(log.counts().values()) == sorted(log.counts().values(), reverse=True)
    for reason, names in log.examples().items():
        firsts = list(dict.fromkeys(f"file{i}.png" for r, i in events if r == reason))
        assert names == firsts[:max_names]


def test_same_sample_met_again_is_not_counted_twice() -> None:
    log = BadSampleLog(log=False)
    assert log.add(BadSample("corrupt_image", "a.jpg"))
    assert not log.add(BadSample("corrupt_image", "a.jpg", "second epoch"))
    assert log.add(BadSample("empty_file", "a.jpg"))
    assert log.counts() == {"corrupt_image": 1, "empty_file": 1}


def test_summary_names_reasons_counts_and_first_files() -> None:
    log = BadSampleLog(max_names=2, log=False)
    assert log.summary() == "none"
    log.extend(BadSample("corrupt_image", f"{i}.jpg") for i in range(3))
    log.add(BadSample("empty_file", "e.png"))
    assert log.summary() == "corrupt_image 3 (0.jpg, 1.jpg, ...); empty_file 1 (e.png)"


def test_only_the_first_names_of_each_reason_are_logged(caplog) -> None:
    log = BadSampleLog(max_names=2)
    with caplog.at_level(logging.WARNING, logger="ganblocks.data"):
        log.extend(BadSample("corrupt_image", f"{i}.jpg", "bad header") for i in range(5))
    assert [r.getMessage() for r in caplog.records] == [
        "data: skipping 0.jpg: corrupt_image (bad header)", "data: skipping 1.jpg: corrupt_image (bad header)"]


def test_negative_max_names_is_refused() -> None:
    with pytest.raises(ValueError, match="max_names"):
        BadSampleLog(max_names=-1)
