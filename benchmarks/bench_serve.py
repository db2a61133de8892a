"""Latency and throughput of ``examples/stylegan_t/serve.py``, measured in a real browser.

    python benchmarks/bench_serve.py                          # shapes (32 px) and small (64 px), CPU
    python benchmarks/bench_serve.py --presets shapes --prompts 50 --clients 8 --seconds 10
    python benchmarks/bench_serve.py --presets shapes --backends torch,onnxruntime   # both backends

For each preset a generator with random weights is saved as a run folder (nothing is downloaded;
``small`` gets the random ViT-L/14 text tower of its config), and ``serve.py`` is started on it
as a user starts it. Then:

- **latency**: headless Chromium (``/usr/bin/chromium``) opens the page; for each of
  ``--prompts`` ShapesT2I prompts it selects the prompt box and types the prompt. The page
  records the time from the last keystroke to the updated grid (the response's images decoded
  and in the page) and the server's generation time of that grid. Prints p50/p95 of both.
- **throughput**: ``--clients`` threads post requests of 8 images, each request a prompt not seen
  before (so no cached text embedding helps), for ``--seconds``; images per second. Against it,
  ``generate.py``'s path: ``G.generate`` in batches of 32 (4 new prompts x 8 seeds), ``to_uint8``,
  PNG encoding, warmed up first. Both run in this process on the same loaded generator (the
  server's app in a thread), so that they share the process's threads and its share of the CPU.

With ``--backends torch,onnxruntime`` each preset is also measured with the server on ONNX
Runtime (``serve.py --backend onnxruntime`` on the generator's exported graphs; rows
``preset (onnxruntime)``); the ``generate.py`` column is PyTorch's path either way.

Each measurement runs ``--repeats`` times (server and ``generate.py`` interleaved, so that both see
the same load on a shared machine); the table shows the medians.

The helpers (a random run folder, the server, the browser) are shared with the tests.
"""

import argparse
import dataclasses
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "stylegan_t"
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


def save_random_run(out: Path, cfg) -> Path:
    """A run folder holding a generator with random weights (drawn from ``cfg.seed``) as G_ema."""
    import torch

    from ganblocks.training import save_checkpoint
    from model import build_generator, create_frozen_clip

    from ganblocks.t2i.runs import checkpoint_meta

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        G = build_generator(cfg, create_frozen_clip(dataclasses.replace(cfg, clip_weights=None)))
    save_checkpoint(out, step=0, modules={"G_ema": G}, optimizers={},
                    meta={"config": json.loads(cfg.to_json()), **checkpoint_meta(G, **cfg.card_info("shapes"))},
                    keep=1, rng=False)
    return out


def start_server(checkpoint: Path, *args: str, timeout: float = 300, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``serve.py`` on a free port; returns the process and the address it printed."""
    proc = subprocess.Popen([sys.executable, str(EXAMPLE / "serve.py"), "--checkpoint", str(checkpoint), "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    box: dict[str, str] = {}
    reader = threading.Thread(target=lambda: box.setdefault("line", proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    line = box.get("line", "")
    if "http://" not in line:
        stop_server(proc)
        raise RuntimeError(f"serve.py did not start within {timeout} s: {line!r} {proc.stderr.read()[-2000:]}")
    return proc, line.rsplit(" at ", 1)[1].strip()


def stop_server(proc: subprocess.Popen, timeout: float = 30) -> int:
    """Stop the server (SIGTERM, then SIGKILL); its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return proc.returncode


def start_browser(profile: Path, width: int = 1200, height: int = 900):
    """Headless Chromium from the system's packages, driven by the system's chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    # Its own session, like a browser a user starts (Linux shares the CPU between sessions).
    service = Service(executable_path=CHROMEDRIVER, popen_kw={"start_new_session": True})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    return driver


def type_prompt(driver, prompt: str, timeout: float = 60) -> dict:
    """Replace the prompt box's text by typing ``prompt``; wait for its grid; the page's record."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    box = driver.find_element(By.ID, "prompt")
    before = driver.execute_script("return window.serveStats.renders.length")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(prompt)
    wait = WebDriverWait(driver, timeout, poll_frequency=0.01)
    return wait.until(lambda d: d.execute_script(
        "const r = window.serveStats.renders; const last = r[r.length - 1];"
        "return r.length > arguments[1] && last.prompt === arguments[0] && "
        "document.getElementById('grid').dataset.prompt === arguments[0] ? last : null;", prompt.strip(), before))


def open_page(driver, url: str, timeout: float = 60) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))


def bench_prompts(n: int) -> list[str]:
    from ganblocks.data import make_eval_prompts

    captions = [p.caption for p in make_eval_prompts(seed=7, n_single_seen=n, n_single_heldout=n // 4,
                                                      n_double_seen=n, n_double_heldout=n // 4)]
    unique = list(dict.fromkeys(captions))
    return [unique[i] for i in range(0, len(unique), max(1, len(unique) // n))][:n]


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def latency(url: str, prompts: list[str], profile: Path) -> dict:
    driver = start_browser(profile)
    try:
        open_page(driver, url)
        type_prompt(driver, "warm up the page")
        records = [type_prompt(driver, p) for p in prompts]
    finally:
        driver.quit()
    ms = [r["latency_ms"] for r in records]
    gen = [r["generation_ms"] for r in records]
    text = [r["text_ms"] for r in records]
    return {"prompts": len(records), "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
            "generation_p50_ms": percentile(gen, 50), "generation_p95_ms": percentile(gen, 95),
            "text_p50_ms": percentile(text, 50)}


def throughput(url: str, clients: int, seconds: float, count: int = 8) -> dict:
    """Images per second with ``clients`` clients posting fresh prompts back to back."""
    import http.client
    from urllib.parse import urlparse

    address = urlparse(url)
    done = [0] * clients
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=600)
        k = 0
        while time.perf_counter() < stop_at:
            body = json.dumps({"prompt": f"a red circle in the center {i} {k}", "seed": k * count, "count": count,
                               "client": f"bench-{i}"})
            conn.request("POST", "/api/generate", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                errors.append(f"HTTP {r.status}")
                return
            done[i] += count
            k += 1
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"the server refused requests: {errors[:3]}")
    return {"clients": clients, "images": sum(done), "images_per_s": sum(done) / (time.perf_counter() - start)}


def generate_py_throughput(G, seconds: float, batch: int = 32) -> dict:
    """generate.py's path: G.generate in batches of 32 (4 new prompts x 8 seeds), to_uint8, PNG
    encoding, for ``seconds`` after a warm-up batch."""
    from PIL import Image

    from evaluate import to_uint8

    images, k = 0, -1
    while True:
        prompts = [f"a blue square at the top {k} {j}" for j in range(batch // 8) for _ in range(8)]
        out = to_uint8(G.generate(prompts, [s % 8 for s in range(batch)]).cpu())
        for img in out:
            Image.fromarray(img.permute(1, 2, 0).numpy()).save(io.BytesIO(), format="PNG")
        if k < 0:  # the warm-up batch
            start = time.perf_counter()
        else:
            images += len(out)
        k += 1
        if images and time.perf_counter() - start >= seconds:
            return {"images": images, "images_per_s": images / (time.perf_counter() - start)}


class InProcessServer:
    """serve.py's app on the generator ``G`` of this process, in a thread: the throughput is
    measured against generate.py's path in the same process, on the same weights."""

    def __init__(self, G, cfg) -> None:
        import uvicorn

        import serve
        from serve_engine import Renderer

        sock = serve.listen("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        self.server = uvicorn.Server(uvicorn.Config(serve.create_app(Renderer(G), cfg), log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the in-process server did not start")
            time.sleep(0.01)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)


def bench_one(name: str, backend: str, args: argparse.Namespace, prompts: list[str]) -> dict:
    """One table row: a random generator of preset ``name`` served by ``backend``."""
    from config import preset
    from generate import load_generator

    import serve

    res = args.resolution or (32 if name == "shapes" else 64)
    tmp = Path(tempfile.mkdtemp(prefix="bench_serve_"))
    lat, thr, gen = [], [], []
    try:
        run = save_random_run(tmp / "run", preset(name, resolution=res))
        G, cfg = load_generator(run)
        served, flags, model = run, [], G
        if backend == "onnxruntime":
            served, flags = tmp / "exported", ["--backend", "onnxruntime"]
            G.export_onnx(served)
            model, _ = serve.load_model(served, "cpu", "onnxruntime")
        proc, url = start_server(served, *flags)  # the latency: the server as a user starts it
        try:
            for i in range(args.repeats):  # new prompts each time: no text embedding is cached yet
                lat.append(latency(url, prompts[i * args.prompts:(i + 1) * args.prompts], tmp / f"profile{i}"))
        finally:
            stop_server(proc)
        server = InProcessServer(model, cfg)  # the throughput: server and generate.py in this process
        try:
            throughput(server.url, args.clients, 1.0)  # warm up every batch shape the rounds will use
            for i in range(args.repeats):  # interleaved, so both see the same machine load
                thr.append(throughput(server.url, args.clients, args.seconds)["images_per_s"])
                gen.append(generate_py_throughput(G, args.seconds)["images_per_s"])
        finally:
            server.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    row = {k: statistics.median(r[k] for r in lat) for k in lat[0]}
    row |= {"server_images_per_s": statistics.median(thr), "generate_py_images_per_s": statistics.median(gen)}
    return {"resolution": res, "backend": backend, "median": row, "latency_runs": lat, "server_runs": thr,
            "generate_py_runs": gen}


def main(argv: list[str] | None = None) -> dict:
    from config import preset

    p = argparse.ArgumentParser(description=__doc__.split("The helpers")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", default="shapes,small", help="comma-separated presets (default shapes,small)")
    p.add_argument("--resolution", type=int, default=None, help="default: 32 for shapes, 64 for the others")
    p.add_argument("--prompts", type=int, default=50, help="prompts typed for the latency (default 50)")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients for the throughput (default 8)")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds per throughput measurement (default 10)")
    p.add_argument("--repeats", type=int, default=3, help="measurements of each kind; the table shows medians (default 3)")
    p.add_argument("--backends", default="torch", help="comma-separated server backends: torch, onnxruntime (default torch)")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.presets.split(",") if n.strip()]
    for name in names:
        try:
            preset(name)
        except ValueError as e:
            p.error(f"--presets: {e}")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or set(backends) - {"torch", "onnxruntime"}:
        p.error(f"--backends: choose from torch, onnxruntime, got {args.backends!r}")
    if args.prompts < 1 or args.clients < 1 or args.seconds <= 0 or args.repeats < 1:
        p.error("--prompts, --clients, --seconds and --repeats must be positive")
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        p.error(f"needs {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver")

    prompts = bench_prompts(args.prompts * args.repeats)
    results = {}
    print("| preset | px | keystroke to grid p50 / p95 (ms) | generation p50 / p95 (ms) | of which text encoding p50 (ms) "
          f"| server images/s, {args.clients} clients | generate.py images/s |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        for backend in backends:
            label = name if backend == "torch" else f"{name} ({backend})"
            results[label] = bench_one(name, backend, args, prompts)
            row = results[label]["median"]
            print(f"| {label} | {results[label]['resolution']} | {row['p50_ms']:.0f} / {row['p95_ms']:.0f} | "
                  f"{row['generation_p50_ms']:.0f} / {row['generation_p95_ms']:.0f} | {row['text_p50_ms']:.0f} | "
                  f"{row['server_images_per_s']:.1f} | {row['generate_py_images_per_s']:.1f} |", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=2))
    return results


if __name__ == "__main__":
    main()
