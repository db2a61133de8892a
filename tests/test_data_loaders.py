"""StepBatches and StreamBatches: the trainer's batches from folders, zips and shards."""

import tarfile

import pytest
import torch
from data_samples import write_bad_samples, write_folder, write_shards, zip_folder
from hypothesis import given
from hypothesis import strategies as st

from ganblocks.data import (
    BadSample, CaptionedImageFolder, CaptionedShards, StepBatches, StreamBatches, data_format, epoch_permutation,
)


class Numbers:
    """A map-style data set whose item i is an image filled with i; ``broken`` items are bad."""

    def __init__(self, n: int, broken: frozenset[int] = frozenset()) -> None:
        self.n, self.broken = n, broken

    def __len__(self) -> int:
        return self.n

    def load(self, index: int) -> tuple[torch.Tensor, str] | BadSample:
        if index in self.broken:
            return BadSample("corrupt_image", f"{index}.jpg")
        return torch.full((3, 2, 2), index % 256, dtype=torch.uint8), str(index)


def ids(batch: tuple[torch.Tensor, list[str]]) -> list[int]:
    return [int(c) for c in batch[1]]


layouts = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3))  # world, per_device, accum


@given(layout=layouts, n=st.integers(1, 40), step=st.integers(0, 30), seed=st.integers(0, 5))
def test_ranks_see_the_rounds_of_a_single_device_run(layout, n, step, seed):
    world, per_device, accum = layout
    batch = world * per_device * accum
    single = StepBatches(Numbers(n), batch_size=batch, per_device=per_device, seed=seed)
    ranks = [StepBatches(Numbers(n), batch_size=batch, per_device=per_device, rank=k, world=world, seed=seed)
             for k in range(world)]
    for r in range(accum):
        for k in range(world):
            assert ids(ranks[k].batch(step, r)) == ids(single.batch(step, r * world + k))


@given(n=st.integers(1, 30), epochs=st.integers(1, 3), seed=st.integers(0, 5))
def test_each_epoch_visits_every_item_once_in_a_seeded_order(n, epochs, seed):
    source = StepBatches(Numbers(n), batch_size=n, per_device=n, seed=seed)
    for e in range(epochs):
        got = ids(source.batch(e, 0))
        assert sorted(got) == list(range(n))
        assert got == epoch_permutation(seed, e, n).tolist()


@given(step=st.integers(0, 20), seed=st.integers(0, 5))
def test_batches_are_a_pure_function_of_the_step(step, seed):
    sequential = StepBatches(Numbers(23), batch_size=6, per_device=3, seed=seed)
    seen = [(s, r, ids(sequential.batch(s, r))) for s in range(step + 1) for r in range(2)]
    resumed = StepBatches(Numbers(23), batch_size=6, per_device=3, seed=seed)
    for s, r, got in seen[-4:]:
        assert ids(resumed.batch(s, r)) == got


def test_unusable_items_are_replaced_by_the_next_and_counted_once() -> None:
    broken = frozenset(range(0, 40, 3))
    source = StepBatches(Numbers(40, broken), batch_size=8, per_device=8, seed=0)
    for step in range(15):  # three epochs
        images, captions = source.batch(step, 0)
        assert images.shape == (8, 3, 2, 2) and not broken & set(ids((images, captions)))
    assert source.bad_samples() == {"corrupt_image": len(broken)}
    again = StepBatches(Numbers(40, broken), batch_size=8, per_device=8, seed=0)
    assert ids(again.batch(7, 0)) == ids(source.batch(7, 0))


def test_data_of_only_bad_items_is_an_error_not_a_hang() -> None:
    source = StepBatches(Numbers(5, frozenset(range(5))), batch_size=2, per_device=2)
    with pytest.raises(RuntimeError, match="5 unusable samples in a row"):
        source.batch(0, 0)


def test_inconsistent_layouts_are_refused() -> None:
    with pytest.raises(ValueError, match="not a multiple"):
        StepBatches(Numbers(5), batch_size=6, per_device=4)
    with pytest.raises(ValueError, match="round"):
        StepBatches(Numbers(5), batch_size=4, per_device=2).batch(0, 2)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("loaders") / "images"
    write_folder(root, 20, seed=5)
    write_bad_samples(root)
    return root


def test_folder_batches_with_workers_equal_those_without(folder) -> None:
    data = CaptionedImageFolder(folder, resolution=16)
    plain = StepBatches(data, batch_size=8, per_device=4, seed=3)
    workers = StepBatches(data, batch_size=8, per_device=4, seed=3, num_workers=2)
    for step in range(4):  # past the first epoch of 26 items
        for r in range(2):
            (a, ca), (b, cb) = plain.batch(step, r), workers.batch(step, r)
            assert a.dtype == torch.uint8 and a.shape == (4, 3, 16, 16)
            assert torch.equal(a, b) and ca == cb
    assert workers.bad_samples() == plain.bad_samples() and "corrupt_image" in plain.bad_samples()
    workers.close()


def test_stream_batches_collect_bad_samples_from_workers(tmp_path) -> None:
    paths = write_shards(tmp_path, [7, 7, 7, 7])
    with tarfile.open(paths[2]) as t:
        cut = t.getmember("k2_2.png").offset_data + 30  # inside k2_2.png: k2_0 and k2_1 survive
    paths[2].write_bytes(paths[2].read_bytes()[:cut])
    for workers in (0, 2):
        source = StreamBatches(CaptionedShards(tmp_path, resolution=8, seed=1), per_device=5, num_workers=workers)
        captions = []
        for step in range(8):  # more than one pass over the 23 readable samples
            images, c = source.batch(step, 0)
            assert images.shape == (5, 3, 8, 8) and images.dtype == torch.uint8
            captions += c
        assert source.bad_samples() == {"truncated_shard": 1}
        assert set(captions) == {f"k{k}_{i}" for k in (0, 1, 3) for i in range(7)} | {"k2_0", "k2_1"}
        source.close()


def test_a_resumed_stream_is_fresh_and_seeded_by_its_first_step(tmp_path) -> None:
    write_shards(tmp_path, [6, 6, 6])

    def first(step: int) -> list[str]:
        source = StreamBatches(CaptionedShards(tmp_path, resolution=4, seed=0), per_device=6)
        return source.batch(step, 0)[1]

    assert first(0) == first(0) and first(0) != first(100)


def test_data_format_tells_folders_zips_and_shards_apart(folder, tmp_path) -> None:
    assert data_format(folder) == "folder"
    assert data_format(zip_folder(folder, tmp_path / "a.zip")) == "zip"
    shards = write_shards(tmp_path / "shards", [1, 1])
    assert data_format(tmp_path / "shards") == "shards" and data_format(shards[0]) == "shards"
    assert data_format(f"{tmp_path}/shards/{{000000..000001}}.tar") == "shards"
    with pytest.raises(FileNotFoundError, match="nowhere: no such file or folder"):
        data_format(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither an image folder"):
        data_format(tmp_path / "empty")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(ValueError, match="expected an image folder"):
        data_format(tmp_path / "x.txt")
