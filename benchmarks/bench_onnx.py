"""Latency of an exported generator under ONNX Runtime against PyTorch eager and ``torch.compile``.

    python benchmarks/bench_onnx.py                            # shapes and small, batch 1 and 8, 2 threads
    python benchmarks/bench_onnx.py --presets shapes --batches 1 --repeats 5

For each preset a generator of its architecture with random weights (``small``: 64 px with the
random ViT-L/14 text tower of its config; nothing is downloaded) is exported with
``ganblocks.export.export_onnx`` and run three ways in this one process, with the same number of
threads: ONNX Runtime (CPU), PyTorch eager and ``torch.compile`` (default mode, compiled per batch
size and warmed up before timing). Text encoding (token ids to the text features) and generation
(latents, text features and $\\psi$ to images) are timed apart. The backends take turns inside
every repeat (interleaved, so that they share the machine's load); the table shows the median of
the repeats, each repeat the mean of ``--calls`` calls, and the ratio of each PyTorch time to ONNX
Runtime's.
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "stylegan_t"))

PROMPTS = ["a red circle in the center", "two blue squares at the top left", "a green triangle on the right",
           "a small yellow square", "a purple circle below a cyan triangle", "a big white square",
           "an orange circle at the bottom", "a red triangle left of a blue circle"]


def build(preset_name: str, seed: int = 0) -> torch.nn.Module:
    from config import preset

    from ganblocks import TextToImageGenerator

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TextToImageGenerator(preset(preset_name).generator).eval().requires_grad_(False)


def timed(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1000


def bench_preset(name: str, batches: list[int], *, threads: int, repeats: int, calls: int,
                 folder: Path, backends: list[str], spinning: bool = False) -> list[dict]:
    from ganblocks.export import OnnxTextToImage, export_onnx

    G = build(name)
    start = time.perf_counter()
    meta = export_onnx(G, folder)
    print(f"{name}: exported in {time.perf_counter() - start:.0f} s, parity {meta['parity']['max_abs_image']:.2g} "
          f"(images) {meta['parity']['max_abs_text']:.2g} (text)", file=sys.stderr)
    runner = OnnxTextToImage(folder, threads=threads, spinning=spinning)
    rows = []
    for b in batches:
        prompts = (PROMPTS * b)[:b]
        ids_np = runner.tokenize(prompts)
        ids = torch.from_numpy(ids_np)
        z = torch.stack([runner.latent(s) for s in range(b)])
        psi = 0.7
        feats = runner.encode(prompts)
        with torch.no_grad():
            c = G.text_encoder.encode_tokens_full(ids)
        compiled_text = torch.compile(G.text_encoder.encode_tokens_full) if "compile" in backends else None
        compiled_gen = torch.compile(G) if "compile" in backends else None

        def gen_eager(g=G) -> object:
            with torch.no_grad():
                return g(z, c, truncation_psi=psi, noise_mode="const", update_avg=False)

        def text_eager(f=G.text_encoder.encode_tokens_full) -> object:
            with torch.no_grad():
                return f(ids)

        fns = {
            "text": {"onnxruntime": lambda: runner.text_session.run(None, {"input_ids": ids_np}),
                     "eager": text_eager, "compile": lambda: text_eager(compiled_text)},
            "generate": {"onnxruntime": lambda: runner.synthesize(z.numpy(), feats, psi),
                         "eager": gen_eager, "compile": lambda: gen_eager(compiled_gen)},
        }
        for part, table in fns.items():
            for backend in backends:  # warm-up (and, for torch.compile, compilation)
                start = time.perf_counter()
                table[backend]()
                table[backend]()
                if backend == "compile":
                    print(f"{name} b{b} {part}: torch.compile warm-up {time.perf_counter() - start:.0f} s", file=sys.stderr)
            times: dict[str, list[float]] = {k: [] for k in backends}
            for r in range(repeats):
                order = backends[r % len(backends):] + backends[:r % len(backends)]
                for backend in order:
                    times[backend].append(timed(table[backend], calls))
            row = {"preset": name, "px": G.resolution, "batch": b, "part": part,
                   **{k: statistics.median(v) for k, v in times.items()}}
            rows.append(row)
            print(row, file=sys.stderr)
        if compiled_gen is not None:
            torch._dynamo.reset()
    return rows


def table(rows: list[dict], backends: list[str]) -> str:
    names = {"onnxruntime": "ONNX Runtime", "eager": "PyTorch eager", "compile": "torch.compile"}
    head = ["preset", "px", "batch", "part"] + [f"{names[b]} ms" for b in backends] + \
        [f"{names[b]} / ORT" for b in backends if b != "onnxruntime"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["preset"], str(r["px"]), str(r["batch"]), r["part"]] + [f"{r[b]:.1f}" for b in backends]
        cells += [f"{r[b] / r['onnxruntime']:.2f}" for b in backends if b != "onnxruntime"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", default=["shapes", "small"])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--threads", type=int, default=2, help="threads of every backend")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--calls", type=int, default=3, help="calls per timed repeat")
    p.add_argument("--backends", nargs="+", default=["onnxruntime", "eager", "compile"],
                   choices=["onnxruntime", "eager", "compile"])
    p.add_argument("--spinning", action="store_true",
                   help="let ONNX Runtime's idle threads spin-wait (its own default; off in OnnxTextToImage)")
    p.add_argument("--folder", type=Path, default=None, help="where to export (default: a temporary folder)")
    args = p.parse_args(argv)
    if "onnxruntime" not in args.backends:
        p.error("--backends must include onnxruntime (the ratios are to it)")
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.folder or Path(tmp)
        for name in args.presets:
            rows += bench_preset(name, args.batches, threads=args.threads, repeats=args.repeats, calls=args.calls,
                                 folder=base / name, backends=args.backends, spinning=args.spinning)
    print(f"torch {torch.__version__}, threads {args.threads}{', spinning' if args.spinning else ''}, median of {args.repeats} interleaved repeats "
          f"of {args.calls} calls")
    print(table(rows, args.backends))


if __name__ == "__main__":
    main()
