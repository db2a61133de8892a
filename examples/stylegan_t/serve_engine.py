"""The generator behind ``serve.py``: requests batched into rounds and run off the event loop.

- :class:`Renderer` makes every call into the generator: one cached text embedding per prompt,
  the latent of a seed (the same ``z`` as ``G.generate``), spherical interpolation between two
  seeds' latents for walks, and the forward passes in fp32 or under bf16 autocast.
- :class:`OnnxGenerator` puts the graphs of ``generate.py --export-onnx`` behind the same calls, run
  by ONNX Runtime (``serve.py --backend onnxruntime``).
- :class:`Batcher` runs requests in rounds on one worker thread, so the event loop keeps serving
  while the generator works. Every request that arrives while a round runs joins the next round:
  no request waits behind more than one round of others. A client's queued request is dropped
  (:class:`Superseded`) when the same client sends a newer one, so typing never builds a queue.
"""

import asyncio
import io
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from evaluate import to_uint8
from ganblocks import TextEncoding


@dataclass(frozen=True)
class Job:
    """One request: an image per seed for a prompt, or per point of a walk between seeds.

    With ``to`` set, image ``i`` is drawn from the latent ``t`` of the way from seed ``seeds[i]``
    to seed ``to[i]`` (``t = 0``: exactly ``seeds[i]``'s image, ``t = 1``: ``to[i]``'s).
    """

    prompt: str
    seeds: tuple[int, ...]
    truncation: float = 1.0
    to: tuple[int, ...] | None = None
    t: float = 0.0
    client: str | None = None


@dataclass(frozen=True)
class Result:
    """PNG bytes per image, and the round that made them."""

    images: list[bytes]
    generation_ms: float  # the round's text encoding, forward passes and PNG encoding
    round_images: int  # images made in that round (this request's and others')
    text_ms: float = 0.0  # of generation_ms: encoding the round's new prompts


class Superseded(Exception):
    """A queued request replaced by a newer one from the same client."""


def slerp(a: Tensor, b: Tensor, t: float) -> Tensor:
    """Spherical interpolation between latents (rows); exactly ``a`` at 0 and ``b`` at 1."""
    a64, b64 = a.double(), b.double()
    cos = (a64 / a64.norm(dim=-1, keepdim=True) * b64 / b64.norm(dim=-1, keepdim=True)).sum(-1, keepdim=True)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    parallel = sin.abs() < 1e-6
    sin = torch.where(parallel, torch.ones_like(sin), sin)
    wa = torch.where(parallel, torch.full_like(sin, 1.0 - t), torch.sin((1.0 - t) * omega) / sin)
    wb = torch.where(parallel, torch.full_like(sin, t), torch.sin(t * omega) / sin)
    return (wa * a64 + wb * b64).to(a.dtype)


class Renderer:
    """Every call into the generator, for one device and precision.

    Args:
        G: The generator (``encode``, ``z_dim`` and ``G(z, c, truncation_psi=...)``).
        device: Where ``G`` lives.
        precision: ``fp32``, or ``bf16`` (autocast on ``device``).
        max_batch: Images per forward pass at most.
        cache_size: Prompts whose text embeddings are kept.
    """

    def __init__(self, G: nn.Module, *, device: str | torch.device = "cpu", precision: str = "fp32",
                 max_batch: int = 64, cache_size: int = 256) -> None:
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be fp32 or bf16, got {precision!r}")
        self.G = G
        self.device = torch.device(device)
        self.precision = precision
        self.max_batch = max_batch
        self.cache_size = cache_size
        self._texts: OrderedDict[str, Tensor] = OrderedDict()
        self.text_seconds = 0.0  # spent encoding prompts, in total
        encoder = getattr(G, "text_encoder", None)
        self.context_length: int | None = getattr(encoder, "context_length", None)
        self._tokenizer = getattr(encoder, "tokenizer", None)

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def prompt_tokens(self, prompt: str) -> int | None:
        """Tokens ``prompt`` takes in the text encoder's context (start and end included), or
        None when the tokenizer cannot tell (then nothing is refused for length)."""
        encode = getattr(self._tokenizer, "encode", None)
        return None if encode is None else len(encode(prompt)) + 2

    def text(self, prompt: str) -> TextEncoding:
        """What the generator reads of the prompt (pooled embedding ``[1, c]``, word tokens and
        their mask), encoded once and then kept (least recently used first out)."""
        c = self._texts.get(prompt)
        if c is None:
            start = time.perf_counter()
            with self._autocast():
                enc = self.G.encode([prompt])
            c = TextEncoding(enc.embedding.float(), enc.tokens.float(), enc.mask)
            self.text_seconds += time.perf_counter() - start
            self._texts[prompt] = c
            while len(self._texts) > self.cache_size:
                self._texts.popitem(last=False)
        self._texts.move_to_end(prompt)
        return c

    def latent(self, seed: int) -> Tensor:
        """Seed ``s``'s latent: the ``z`` that ``G.generate`` draws for it."""
        return torch.randn(self.G.z_dim, generator=torch.Generator().manual_seed(int(seed)))

    def latents(self, job: Job) -> Tensor:
        """``[n, z_dim]`` latents of a job, on the CPU."""
        z = torch.stack([self.latent(s) for s in job.seeds])
        if job.to is None:
            return z
        return slerp(z, torch.stack([self.latent(s) for s in job.to]), job.t)

    @torch.inference_mode()
    def images(self, jobs: Sequence[Job]) -> list[Tensor]:
        """uint8 images ``[n, 3, R, R]`` per job; jobs with the same truncation share passes."""
        out: list[list[Tensor]] = [[] for _ in jobs]
        groups: dict[float, list[int]] = {}
        for k, job in enumerate(jobs):
            groups.setdefault(job.truncation, []).append(k)
        for psi, members in groups.items():
            z = torch.cat([self.latents(jobs[k]) for k in members])
            texts = [self.text(jobs[k].prompt) for k in members]
            c = TextEncoding(*(torch.cat([t[f].expand(len(jobs[k].seeds), *t[f].shape[1:])
                                          for k, t in zip(members, texts)]) for f in range(3)))
            owner = [k for k in members for _ in jobs[k].seeds]
            for i in range(0, len(owner), self.max_batch):
                part = TextEncoding(*(field[i:i + self.max_batch] for field in c))
                with self._autocast():
                    x = self.G(z[i:i + self.max_batch].to(self.device), part,
                               truncation_psi=psi, noise_mode="const", update_avg=False)
                for k, img in zip(owner[i:i + self.max_batch], to_uint8(x).cpu()):
                    out[k].append(img)
        return [torch.stack(x) for x in out]

    def run(self, jobs: Sequence[Job]) -> list[Result]:
        """Generate and PNG-encode the images of a round of jobs."""
        start, text = time.perf_counter(), self.text_seconds
        pngs = [[png(img) for img in batch] for batch in self.images(jobs)]
        ms, text_ms = (time.perf_counter() - start) * 1000, (self.text_seconds - text) * 1000
        total = sum(len(p) for p in pngs)
        return [Result(images=p, generation_ms=ms, round_images=total, text_ms=text_ms) for p in pngs]


class OnnxGenerator:
    """An exported folder (``generate.py --export-onnx``) behind the calls :class:`Renderer` makes
    of a generator: ``encode`` and ``G(z, c, truncation_psi=...)``, run by ONNX Runtime on the CPU.

    The latents are drawn as ``G.generate`` draws them, so a seed gives the same image with
    either backend (up to float rounding, far below a level of 255).
    """

    def __init__(self, folder: str | Path, *, threads: int | None = None) -> None:
        from ganblocks.export import OnnxTextToImage

        self.model = OnnxTextToImage(folder, threads=threads)
        self.z_dim, self.resolution = self.model.z_dim, self.model.resolution
        self.training_info = dict(self.model.meta.get("training") or {})
        self.text_encoder = SimpleNamespace(context_length=self.model.context_length, tokenizer=self.model.tokenizer)

    def encode(self, prompts: Sequence[str]) -> TextEncoding:
        text = self.model.encode(prompts)
        b = len(prompts)
        return TextEncoding(torch.from_numpy(text["text_embedding"]),
                            torch.from_numpy(text.get("text_tokens", np.zeros((b, 0, 0), np.float32))),
                            torch.from_numpy(text.get("text_mask", np.zeros((b, 0), bool))))

    def __call__(self, z: Tensor, c: TextEncoding, *, truncation_psi: float = 1.0, noise_mode: str = "const",
                 update_avg: bool | None = None) -> Tensor:
        if noise_mode != self.model.meta["noise_mode"]:
            raise ValueError(f"the exported graph holds noise_mode={self.model.meta['noise_mode']!r}, not {noise_mode!r}")
        text = {"text_embedding": c.embedding.numpy()}
        if self.model.uses_tokens:
            text |= {"text_tokens": c.tokens.numpy(), "text_mask": c.mask.numpy()}
        return torch.from_numpy(self.model.synthesize(z.cpu().numpy(), text, truncation_psi))

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], seeds: Sequence[int], *, truncation_psi: float = 1.0) -> Tensor:
        """``G.generate``'s images, from the graphs."""
        return torch.from_numpy(self.model.generate(prompts, seeds, truncation_psi=truncation_psi))


def png(image: Tensor) -> bytes:
    """PNG bytes of one uint8 image ``[3, R, R]``."""
    buf = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class Batcher:
    """Runs jobs in rounds on one worker thread; see the module docstring."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self._pending: list[tuple[Job, asyncio.Future]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generator")
        self.rounds = 0

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for _, future in self._pending:
            future.cancel()
        self._executor.shutdown(wait=True)

    async def submit(self, job: Job) -> Result:
        """Queue a job for the next round; raises :class:`Superseded` if the same client sends
        a newer job before this one's round starts."""
        if self._wake is None:
            raise RuntimeError("the batcher is not started")
        if job.client is not None:
            for old, future in self._pending:
                if old.client == job.client and not future.done():
                    future.set_exception(Superseded("superseded by a newer request from the same client"))
            self._pending = [(j, f) for j, f in self._pending if not f.done()]
        future = asyncio.get_running_loop().create_future()
        self._pending.append((job, future))
        self._wake.set()
        return await future

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch = [(j, f) for j, f in self._pending if not f.done()]  # dropped: cancelled
            self._pending = []
            if not batch:
                continue
            self.rounds += 1
            try:
                results = await loop.run_in_executor(self._executor, self.renderer.run, [j for j, _ in batch])
            except Exception as e:  # answered per request; the loop keeps serving
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            for (_, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)

