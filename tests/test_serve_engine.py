"""examples/stylegan_t/serve_engine.py: slerp, the renderer's images and cache, rounds of requests."""

import asyncio
import threading
import time

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from strategies import seeds


from serve_engine import Batcher, Job, Renderer, Result, Superseded, slerp  # noqa: E402


@given(seed=seeds, dim=st.integers(2, 64))
def test_slerp_hits_both_ends_exactly_and_keeps_the_norm_between(seed: int, dim: int) -> None:
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(3, dim, generator=g), torch.randn(3, dim, generator=g)
    assert torch.equal(slerp(a, b, 0.0), a) and torch.equal(slerp(a, b, 1.0), b)
    b = b / b.norm(dim=-1, keepdim=True) * a.norm(dim=-1, keepdim=True)  # equal norms: stays on the sphere
    mid = slerp(a, b, 0.5)
    torch.testing.assert_close(mid.norm(dim=-1), a.norm(dim=-1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(slerp(a, a, 0.3), a)  # parallel latents: no division by zero


@pytest.fixture(scope="module")
def tiny_G():
    from config import preset
    from model import build_generator, create_frozen_clip

    torch.manual_seed(0)
    cfg = preset("shapes", resolution=32, channel_max=32, z_dim=8, clip_weights=None)
    return build_generator(cfg, create_frozen_clip(cfg)).eval().requires_grad_(False)


def close_to(a: torch.Tensor, b: torch.Tensor) -> bool:
    """uint8 images equal but for float rounding of differently batched passes (1 level, rarely)."""
    d = (a.int() - b.int()).abs()
    return d.max().item() <= 1 and (d > 0).float().mean().item() < 1e-3


def test_renderer_draws_the_generators_images(tiny_G) -> None:
    from evaluate import to_uint8

    r = Renderer(tiny_G, max_batch=3)  # several passes per group
    prompt = "a red circle in the center"
    jobs = [Job(prompt=prompt, seeds=(4, 5, 6, 7)), Job(prompt="a blue square", seeds=(4,), truncation=0.5),
            Job(prompt=prompt, seeds=(9,))]
    a, b, c = r.images(jobs)
    assert a.shape == (4, 3, 32, 32) and a.dtype == torch.uint8 and b.shape == (1, 3, 32, 32)
    assert close_to(a, to_uint8(tiny_G.generate([prompt] * 4, [4, 5, 6, 7])))
    assert close_to(b, to_uint8(tiny_G.generate(["a blue square"], [4], truncation_psi=0.5)))
    assert close_to(c, to_uint8(tiny_G.generate([prompt], [9])))
    assert not close_to(a[0], a[1])  # the comparison can tell seeds apart


def test_walk_starts_and_ends_on_the_seeds_images(tiny_G) -> None:
    r = Renderer(tiny_G)
    p = "a green triangle at the top"
    start, end = r.images([Job(prompt=p, seeds=(1, 2))])[0], r.images([Job(prompt=p, seeds=(3, 4))])[0]
    at = [r.images([Job(prompt=p, seeds=(1, 2), to=(3, 4), t=t)])[0] for t in (0.0, 0.5, 1.0)]
    assert torch.equal(at[0], start) and torch.equal(at[2], end)
    assert not close_to(at[1], start) and not close_to(at[1], end)


def test_bf16_renderer_draws_nearly_the_same_images(tiny_G) -> None:
    job = Job(prompt="a white square on the left", seeds=(0, 1))
    fp32 = Renderer(tiny_G).images([job])[0].float()
    bf16 = Renderer(tiny_G, precision="bf16").images([job])[0].float()
    assert (fp32 - bf16).abs().mean() < 8  # of 255: bf16 rounding, not a different image
    with pytest.raises(ValueError, match="fp32 or bf16"):
        Renderer(tiny_G, precision="fp16")


def test_text_cache_is_bounded_and_prompt_tokens_counted(tiny_G) -> None:
    r = Renderer(tiny_G, cache_size=4)
    for i in range(10):
        r.text(f"prompt {i}")
    assert len(r._texts) == 4 and list(r._texts) == [f"prompt {i}" for i in range(6, 10)]
    assert r.context_length == 32
    assert r.prompt_tokens("a red circle") == 5 and r.prompt_tokens("word " * 40) == 42


class SlowRenderer:
    """Stands in for Renderer: records rounds, takes ``delay`` seconds per round."""

    def __init__(self, delay: float = 0.2, fail_on: str | None = None) -> None:
        self.delay, self.fail_on, self.rounds = delay, fail_on, []
        self.threads: set[str] = set()

    def run(self, jobs):
        self.threads.add(threading.current_thread().name)
        self.rounds.append([j.prompt for j in jobs])
        time.sleep(self.delay)
        if any(j.prompt == self.fail_on for j in jobs):
            raise RuntimeError("the generator broke")
        return [Result(images=[j.prompt.encode()], generation_ms=1.0, round_images=len(jobs)) for j in jobs]


def test_requests_arriving_during_a_round_share_the_next_round() -> None:
    renderer = SlowRenderer()

    async def scenario():
        b = Batcher(renderer)
        await b.start()
        first = asyncio.create_task(b.submit(Job(prompt="first", seeds=(0,))))
        await asyncio.sleep(0.05)  # the first round is running
        ticks = 0
        others = [asyncio.create_task(b.submit(Job(prompt=f"other {i}", seeds=(0,)))) for i in range(5)]
        while not first.done():  # the event loop keeps running while the generator works
            await asyncio.sleep(0.01)
            ticks += 1
        results = await asyncio.gather(first, *others)
        await b.stop()
        return ticks, results

    ticks, results = asyncio.run(scenario())
    assert renderer.rounds == [["first"], [f"other {i}" for i in range(5)]]
    assert [r.images[0] for r in results] == [b"first"] + [f"other {i}".encode() for i in range(5)]
    assert ticks >= 5 and renderer.threads == {"generator_0"}


def test_a_clients_queued_request_is_superseded_by_its_newer_one() -> None:
    renderer = SlowRenderer()

    async def scenario():
        b = Batcher(renderer)
        await b.start()
        running = asyncio.create_task(b.submit(Job(prompt="a", seeds=(0,), client="me")))
        await asyncio.sleep(0.05)
        queued = asyncio.create_task(b.submit(Job(prompt="ab", seeds=(0,), client="me")))
        other = asyncio.create_task(b.submit(Job(prompt="x", seeds=(0,), client="you")))
        await asyncio.sleep(0.01)
        newest = asyncio.create_task(b.submit(Job(prompt="abc", seeds=(0,), client="me")))
        out = await asyncio.gather(running, queued, other, newest, return_exceptions=True)
        await b.stop()
        return out

    running, queued, other, newest = asyncio.run(scenario())
    assert running.images == [b"a"] and other.images == [b"x"] and newest.images == [b"abc"]
    assert isinstance(queued, Superseded)
    assert renderer.rounds == [["a"], ["x", "abc"]]


def test_a_failing_round_answers_its_requests_and_the_next_round_runs() -> None:
    renderer = SlowRenderer(delay=0.01, fail_on="boom")

    async def scenario():
        b = Batcher(renderer)
        await b.start()
        bad = await asyncio.gather(b.submit(Job(prompt="boom", seeds=(0,))), return_exceptions=True)
        good = await b.submit(Job(prompt="fine", seeds=(0,)))
        await b.stop()
        return bad[0], good

    bad, good = asyncio.run(scenario())
    assert isinstance(bad, RuntimeError) and good.images == [b"fine"]


def test_renderer_draws_a_token_attending_generator(tmp_path):
    # a generator with cross-attention reads the cached word tokens, not only the pooled vector
    from ganblocks import GeneratorConfig, TextToImageGenerator
    from serve_engine import Job, Renderer

    torch.manual_seed(0)
    G = TextToImageGenerator(GeneratorConfig(32, z_dim=8, channel_max=32, cross_attention=(8, 16))).eval()
    renderer = Renderer(G)
    got = renderer.images([Job(prompt="a red circle", seeds=(1, 2)),
                           Job(prompt="a blue square on the left", seeds=(3,))])
    want = G.generate(["a red circle", "a red circle", "a blue square on the left"], [1, 2, 3])
    from ganblocks import to_uint8

    torch.testing.assert_close(torch.cat(got).int(), to_uint8(want).int(), atol=1, rtol=0)
