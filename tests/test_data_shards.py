"""CaptionedShards: WebDataset shards streamed, shuffled, split over ranks and workers, robust."""

import io
import tarfile
from types import SimpleNamespace
from unittest import mock

import pytest
import webdataset as wds
from data_samples import tiny_png, write_shards
from hypothesis import given
from hypothesis import strategies as st

from ganblocks.data import BadSample, CaptionedShards, expand_shards

SIZES = [3, 5, 1, 4, 2]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return write_shards(tmp_path_factory.mktemp("shards"), SIZES)


def keys(stream: CaptionedShards) -> list[str]:
    return [caption for _, caption in stream]


def worker(id: int, num_workers: int):
    return mock.patch("torch.utils.data.get_worker_info", lambda: SimpleNamespace(id=id, num_workers=num_workers))


def test_expand_shards_accepts_a_tar_a_pattern_a_folder_and_a_list(shards) -> None:
    folder = shards[0].parent
    names = [p.as_posix() for p in shards]
    assert expand_shards(shards[0]) == names[:1]
    assert expand_shards(f"{folder}/{{000001..000003}}.tar") == names[1:4]
    assert expand_shards(folder) == names
    assert expand_shards([str(shards[4]), f"{folder}/00000{{0,1}}.tar"]) == [names[4], names[0], names[1]]
    assert expand_shards("https://example.com/{0..1}.tar") == ["https://example.com/0.tar", "https://example.com/1.tar"]


def test_missing_shards_and_empty_folders_are_refused(shards, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"000005\.tar: no such shard \(and 1 more of 4 shards\)"):
        expand_shards(f"{shards[0].parent}/{{000003..000006}}.tar")
    with pytest.raises(ValueError, match="no .tar shards"):
        expand_shards(tmp_path)


@given(n=st.integers(1, 5), world=st.integers(1, 3), workers=st.integers(1, 3), seed=st.integers(0, 3))
def test_ranks_and_workers_partition_each_epoch(shards, n, world, workers, seed):
    everyone = []
    for rank in range(world):
        for w in range(workers):
            with worker(w, workers):
                everyone.append(keys(CaptionedShards(shards[:n], resolution=4, seed=seed, rank=rank, world=world)))
    flat = [k for part in everyone for k in part]
    assert sorted(flat) == sorted(f"k{k}_{i}" for k in range(n) for i in range(SIZES[k]))


def test_samples_are_decoded_like_folders(shards) -> None:
    for image, caption in CaptionedShards(shards[:1], resolution=8, shuffle=False):
        k, i = map(int, caption[1:].split("_"))
        assert image.shape == (3, 8, 8) and image[0].unique().tolist() == [(k * 16 + i) % 256]


def test_shuffle_is_seeded_and_repeat_reshuffles_each_epoch(shards) -> None:
    n = sum(SIZES)
    a = keys(CaptionedShards(shards, resolution=4, seed=1, shuffle_buffer=4))
    assert a == keys(CaptionedShards(shards, resolution=4, seed=1, shuffle_buffer=4))
    assert a != keys(CaptionedShards(shards, resolution=4, seed=2, shuffle_buffer=4))
    assert keys(CaptionedShards(shards, resolution=4, shuffle=False)) == [
        f"k{k}_{i}" for k in range(5) for i in range(SIZES[k])]
    stream = iter(CaptionedShards(shards, resolution=4, seed=1, repeat=True))
    two = [next(stream)[1] for _ in range(2 * n)]
    assert sorted(two[:n]) == sorted(two[n:]) and two[:n] != two[n:]


def member_offsets(path) -> list[tuple[str, int, int]]:
    with tarfile.open(path) as t:
        return [(m.name, m.offset, m.offset_data) for m in t.getmembers()]


@pytest.mark.parametrize("where", ["header", "data"])
def test_shard_truncated_in_the_middle_gives_its_first_samples_and_is_counted(tmp_path, where) -> None:
    paths = write_shards(tmp_path, [6, 6, 6], noise=24)
    members = member_offsets(paths[1])
    name, offset, data = members[6]
    assert name == "k1_3.png"  # the 4th sample's image
    cut = offset if where == "header" else data + 37
    paths[1].write_bytes(paths[1].read_bytes()[:cut])
    stream = CaptionedShards(tmp_path, resolution=4, shuffle=False)
    got = keys(stream)
    assert got == [f"k0_{i}" for i in range(6)] + ["k1_0", "k1_1", "k1_2"] + [f"k2_{i}" for i in range(6)]
    assert stream.bad.counts() == {"truncated_shard": 1}
    assert stream.bad.examples()["truncated_shard"] == [paths[1].as_posix()]


def test_bad_samples_inside_shards_are_skipped_and_counted(tmp_path) -> None:
    path = tmp_path / "mixed.tar"
    with wds.TarWriter(str(path)) as w:
        w.write({"__key__": "ok", "png": tiny_png(1), "txt": "fine"})
        w.write({"__key__": "nocaption", "png": tiny_png(2)})
        w.write({"__key__": "noimage", "txt": "an image went missing"})
        w.write({"__key__": "corrupt", "jpg": b"\xff\xd8\xff garbage", "txt": "broken"})
        w.write({"__key__": "empty", "webp": b"", "txt": "empty"})
        w.write({"__key__": "json", "png": tiny_png(3), "json": b'{"caption": "from json"}'})
        w.write({"__key__": "long", "png": tiny_png(4), "txt": "word " * 2000})
    stream = CaptionedShards(path, resolution=4, shuffle=False)
    got = keys(stream)
    assert got[:2] == ["fine", "from json"] and len(got) == 3 and len(got[2]) <= 1000
    assert stream.bad.counts() == {"corrupt_image": 1, "empty_file": 1, "missing_caption": 1, "missing_image": 1}
    assert all(name.startswith(path.as_posix() + ":") for name in sum(stream.bad.examples().values(), []))
    items = list(CaptionedShards(path, resolution=4, shuffle=False).samples())
    assert sum(isinstance(x, BadSample) for x in items) == 4


def test_shards_without_usable_samples_fail_verification(tmp_path) -> None:
    path = tmp_path / "bad.tar"
    with wds.TarWriter(str(path)) as w:
        for i in range(3):
            w.write({"__key__": f"x{i}", "jpg": b"nope", "txt": "caption"})
    stream = CaptionedShards(path, resolution=4)
    with pytest.raises(ValueError, match=rf"{path}: no usable samples.*corrupt_image 3"):
        stream.verify()
    not_a_tar = tmp_path / "junk.tar"
    not_a_tar.write_bytes(io.BytesIO(b"x" * 3000).getvalue())
    with pytest.raises(ValueError, match="unreadable_shard|truncated_shard"):
        CaptionedShards(not_a_tar, resolution=4).verify()


def test_rank_out_of_range_is_refused(shards) -> None:
    with pytest.raises(ValueError, match="rank"):
        CaptionedShards(shards, resolution=4, rank=2, world=2)
