"""A live prompt-to-image page for a trained StyleGAN-T generator, served on this machine.

    python examples/stylegan_t/serve.py                                # the shipped emoji model; open the printed address
    python examples/stylegan_t/serve.py --checkpoint runs/x            # a run of your own
    python examples/stylegan_t/serve.py --checkpoint runs/x --port 0 --device cuda --precision bf16
    python examples/stylegan_t/serve.py --checkpoint exported/x --backend onnxruntime   # generate.py --export-onnx's folder

Without ``--checkpoint`` it serves ``ganblocks/emoji-32``, the text-to-emoji generator that ships
with ganblocks (no training, no download); ``--checkpoint`` takes a run or checkpoint folder, a
folder written by ``save_pretrained`` (``generate.py --export-model``), or a model's name.

The page redraws a grid of images as the prompt is typed, walks the latent space between seeds,
and downloads the grid as a PNG. It needs no internet: its HTML, JavaScript and CSS ship in
``serve_assets/``, and nothing else on disk is ever served.

HTTP API (what the page uses)::

    POST /api/generate  {"prompt": "a red circle in the center", "seed": 0, "count": 8,
                         "truncation": 1.0}
        -> {"images": [PNG data URLs], "seeds": [0, ..., 7], "generation_ms": 21.3, ...}
    optional: "seeds": [3, 9] instead of seed/count; "to": 8 (or a list) and "t": 0.25 for the
    point a quarter of the way from each seed's latent to the matching seed of "to"; "client":
    an id whose queued request is dropped (409) when the same id sends a newer one.
    GET /api/info       -> resolution, limits and example prompts (captions of the training data)

A bad request gets a 4xx and a one-line ``{"error": ...}``; the server keeps serving.
"""

import base64
import contextlib
import json
import math
import socket
import sys
from pathlib import Path
from typing import Any

from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from config import Config  # noqa: E402
from serve_engine import Batcher, Job, Renderer, Superseded  # noqa: E402

from ganblocks.cli import ArgumentParser, fail, resolve_device, user_errors  # noqa: E402

ASSETS = Path(__file__).resolve().parent / "serve_assets"
ASSET_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
MAX_PROMPT_CHARS = 1000
MAX_COUNT = 64
MAX_SEED = 2**31 - 1
MAX_BODY = 16 * 1024
FIELDS = ("prompt", "seed", "count", "seeds", "truncation", "to", "t", "client")
CSP = "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'"
DEFAULT_MODEL = "ganblocks/emoji-32"  # ships with the package: served when no --checkpoint is given


class BadRequest(Exception):
    """A request the server refuses: an HTTP status and a one-line reason."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


def load_model(checkpoint: str | Path, device: str, backend: str = "torch") -> tuple[nn.Module, Config | None]:
    """The generator, loaded once (the only loading call), and its run's config (None when it has
    none): a run or checkpoint folder through the example's loader (older runs included); a saved
    folder, a shipped model's name (``ganblocks/emoji-32``) or a Hub repo id through
    ``TextToImageGenerator.from_pretrained``; with ``backend="onnxruntime"``, the graphs of a
    folder written by ``generate.py --export-onnx`` (on the CPU)."""
    if backend == "onnxruntime":
        from serve_engine import OnnxGenerator

        return OnnxGenerator(checkpoint), None
    if backend != "torch":
        raise ValueError(f"backend must be 'torch' or 'onnxruntime', got {backend!r}")
    from ganblocks.t2i.runs import is_run_folder

    if Path(checkpoint).is_dir() and is_run_folder(Path(checkpoint)):
        from generate import load_generator

        return load_generator(checkpoint, device=device)
    from ganblocks import TextToImageGenerator

    return TextToImageGenerator.from_pretrained(checkpoint, device=device), None


def _int(body: dict[str, Any], name: str, lo: int, hi: int, default: int | None = None) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be an integer in [{lo}, {hi}], got {json.dumps(value)[:40]}")
    if not lo <= value <= hi:
        raise BadRequest(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def _float(body: dict[str, Any], name: str, lo: float, hi: float, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(f"{name} must be a number in [{lo}, {hi}], got {json.dumps(value)[:40]}")
    if not lo <= value <= hi:
        raise BadRequest(f"{name} must be in [{lo}, {hi}], got {value}")
    return float(value)


def _seed_list(value: Any, name: str, count: int | None) -> tuple[int, ...]:
    if isinstance(value, list):
        if not 1 <= len(value) <= MAX_COUNT:
            raise BadRequest(f"{name} must list 1 to {MAX_COUNT} seeds, got {len(value)}")
        if count is not None and len(value) != count:
            raise BadRequest(f"{name} must list {count} seeds (one per image), got {len(value)}")
        return tuple(_int({name: v}, name, 0, MAX_SEED) for v in value)
    start = _int({name: value}, name, 0, MAX_SEED)
    count = count or 1
    if start + count - 1 > MAX_SEED:
        raise BadRequest(f"{name} + count - 1 must be at most {MAX_SEED}, got {start + count - 1}")
    return tuple(range(start, start + count))


def parse_job(raw: bytes, renderer: Renderer) -> Job:
    """Validate a ``/api/generate`` body into a job; raises :class:`BadRequest`."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest('malformed request: the body must be a JSON object like {"prompt": "...", "seed": 0}') from None
    if not isinstance(body, dict):
        raise BadRequest(f"malformed request: the body must be a JSON object, got {type(body).__name__}")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}; known fields: {', '.join(FIELDS)}")
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise BadRequest(f"prompt must be text, got {json.dumps(prompt)[:40]}")
    prompt = prompt.strip()
    if not prompt:
        raise BadRequest("prompt is empty: type a description of the image")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as e:  # JSON's "\\ud800" escapes decode to a lone surrogate: not text
        raise BadRequest(f"prompt is not valid Unicode text: a lone surrogate (U+{ord(prompt[e.start]):04X}) at "
                         f"character {e.start}; send UTF-8 text") from None
    if len(prompt) > MAX_PROMPT_CHARS:
        raise BadRequest(f"prompt is too long: {len(prompt)} characters, at most {MAX_PROMPT_CHARS}")
    tokens = renderer.prompt_tokens(prompt)
    if tokens is not None and renderer.context_length is not None and tokens > renderer.context_length:
        raise BadRequest(f"prompt is too long: {tokens} tokens, the text encoder reads at most {renderer.context_length}")
    if "seeds" in body:
        if "seed" in body or "count" in body:
            raise BadRequest("pass either seeds (a list) or seed and count, not both")
        seeds = _seed_list(body["seeds"], "seeds", None)
    else:
        seeds = _seed_list(body.get("seed", 0), "seed", _int(body, "count", 1, MAX_COUNT, default=8))
    truncation = _float(body, "truncation", 0.0, 2.0, 1.0)
    to, t = None, 0.0
    if ("to" in body) != ("t" in body):
        raise BadRequest("a walk needs both to (the seeds walked towards) and t (how far, 0 to 1)")
    if "to" in body:
        to = _seed_list(body["to"], "to", len(seeds))
        t = _float(body, "t", 0.0, 1.0, 0.0)
    client = body.get("client")
    if client is not None and (not isinstance(client, str) or not 0 < len(client) <= 64):
        raise BadRequest("client must be a string of 1 to 64 characters")
    return Job(prompt=prompt, seeds=seeds, truncation=truncation, to=to, t=t, client=client)


def suggestions(cfg: Config | None, G: nn.Module | None = None) -> list[str]:
    """Example prompts for the page. From a run's config: ShapesT2I's evaluation captions, or the
    sample grid's captions of the data the run trained on (an EmojiT2I folder's seen and held-out
    ones, a fixed sample of another folder's; none when that data cannot be read here). Without
    one (a saved or shipped model, ONNX graphs): the captions of its training data recorded in
    its ``training_info`` (``example_prompts``), else ShapesT2I's for a ShapesT2I model, else none."""
    if cfg is None:
        info = getattr(G, "training_info", None) or {}
        prompts = info.get("example_prompts")
        if isinstance(prompts, list) and prompts:
            return [p for p in prompts if isinstance(p, str) and p.strip()]
        if not str(info.get("data", "")).startswith("ShapesT2I"):
            return []
    elif cfg.data != "shapes":
        from evaluate import grid_prompts

        try:
            return grid_prompts(cfg)
        except (OSError, ValueError):  # the training data is not on this machine
            return []
    from ganblocks.data import make_eval_prompts

    prompts = make_eval_prompts(seed=0, n_single_seen=8, n_single_heldout=3, n_double_seen=4, n_double_heldout=2)
    return [p.caption for p in prompts]


def create_app(renderer: Renderer, cfg: Config | None, *, checkpoint: str = "") -> Any:
    """The ASGI app: the page, its assets, ``/api/info`` and ``/api/generate`` (``cfg``: the
    run's config, None for a model without one; it picks the example prompts)."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    assets = {p.name: (p.read_bytes(), ASSET_TYPES[p.suffix]) for p in sorted(ASSETS.iterdir())
              if p.is_file() and p.suffix in ASSET_TYPES}
    batcher = Batcher(renderer)
    info = {"resolution": int(renderer.G.resolution), "count": 8, "max_count": MAX_COUNT, "max_seed": MAX_SEED,
            "max_prompt_chars": MAX_PROMPT_CHARS, "context_tokens": renderer.context_length,
            "suggestions": suggestions(cfg, renderer.G), "device": str(renderer.device), "precision": renderer.precision,
            "checkpoint": checkpoint}
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}

    def error(reason: str, status: int) -> JSONResponse:
        return JSONResponse({"error": " ".join(reason.split())}, status_code=status)

    async def page(request: Request) -> Response:
        return Response(assets["index.html"][0], media_type=assets["index.html"][1], headers=headers)

    async def asset(request: Request) -> Response:
        found = assets.get(request.path_params["name"])  # a fixed set of names: no path is ever built
        if found is None:
            return error(f"no asset {request.path_params['name']!r}", 404)
        return Response(found[0], media_type=found[1], headers=headers)

    async def api_info(request: Request) -> Response:
        return JSONResponse(info)

    async def api_generate(request: Request) -> Response:
        length = request.headers.get("content-length") or "0"
        if not length.isdigit():
            return error("malformed request: bad Content-Length header", 400)
        if int(length) > MAX_BODY:
            return error(f"request body too large: at most {MAX_BODY} bytes", 413)
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                return error(f"request body too large: at most {MAX_BODY} bytes", 413)
        try:
            job = parse_job(raw, renderer)
        except BadRequest as e:
            return error(str(e), e.status)
        try:
            result = await batcher.submit(job)
        except Superseded as e:
            return error(str(e), 409)
        except Exception as e:  # the generator failed: say so, keep serving
            return error(f"generation failed: {type(e).__name__}: {e}", 500)
        return JSONResponse({
            "images": ["data:image/png;base64," + base64.b64encode(b).decode("ascii") for b in result.images],
            "seeds": list(job.seeds), "to": None if job.to is None else list(job.to), "t": job.t,
            "prompt": job.prompt, "truncation": job.truncation, "generation_ms": round(result.generation_ms, 2),
            "text_ms": round(result.text_ms, 2),
            "round_images": result.round_images, "resolution": info["resolution"]})

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        return error(str(getattr(exc, "detail", "")) or "bad request", status)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any):
        await batcher.start()
        yield
        await batcher.stop()

    routes = [Route("/", page), Route("/assets/{name}", asset), Route("/api/info", api_info),
              Route("/api/generate", api_generate, methods=["POST"])]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.batcher = batcher
    return app


def listen(host: str, port: int) -> socket.socket:
    """A bound socket (port 0: a free one); the server accepts on it once the model is ready."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections wait in the backlog until the model is ready
    except OSError as e:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {e.strerror or e}; pick another --port (0: any free one)")
    return sock


def main(argv: list[str] | None = None) -> None:
    p = ArgumentParser(description=__doc__.split("HTTP API")[0])
    p.add_argument("--checkpoint", default=None,
                   help=f"a run folder (its latest checkpoint), one checkpoint folder, a folder written by "
                   f"generate.py --export-model, or a shipped model's name (default: {DEFAULT_MODEL}, the emoji "
                   "generator that ships with ganblocks); with --backend onnxruntime, a folder written by "
                   "generate.py --export-onnx")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or cuda:N")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="fp32, or bf16 autocast")
    p.add_argument("--batch", type=int, default=64, help="images per forward pass at most (default 64)")
    p.add_argument("--backend", choices=["torch", "onnxruntime"], default="torch",
                   help="torch (default): --checkpoint is a run, checkpoint or saved folder or a model's name; "
                   "onnxruntime: --checkpoint is a folder written by generate.py --export-onnx, run by ONNX Runtime "
                   "on the CPU in fp32")
    args = p.parse_args(argv)
    if args.checkpoint is None:
        if args.backend == "onnxruntime":
            p.error("--backend onnxruntime needs --checkpoint DIR, a folder written by generate.py --export-onnx")
        args.checkpoint = DEFAULT_MODEL
    if args.backend == "onnxruntime" and (args.precision != "fp32" or args.device not in ("auto", "cpu")):
        p.error("--backend onnxruntime runs on the CPU in fp32: drop --precision and --device")
    if not 0 <= args.port <= 65535:
        p.error(f"--port must be in [0, 65535], got {args.port}")
    if args.batch <= 0:
        p.error(f"--batch must be positive, got {args.batch}")
    try:
        import uvicorn
    except ImportError:
        fail('serve.py needs starlette and uvicorn: pip install -e ".[serve]"')

    with user_errors():
        device = "cpu" if args.backend == "onnxruntime" else str(resolve_device(args.device))
    sock = listen(args.host, args.port)
    try:
        G, cfg = load_model(args.checkpoint, device, args.backend)
        renderer = Renderer(G, device=device, precision=args.precision, max_batch=args.batch)
        renderer.run([Job(prompt="warm-up", seeds=(0,))])  # a broken generator fails here, not at the first visitor
    except Exception as e:  # a user-facing tool: one line, no traceback wall
        sock.close()
        fail(f"cannot load a generator from {args.checkpoint}: {e}")
    app = create_app(renderer, cfg, checkpoint=str(args.checkpoint))
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    shown_backend = ", onnxruntime" if args.backend == "onnxruntime" else ""
    print(f"serving {args.checkpoint} ({G.resolution} px, {device}, {args.precision}{shown_backend}) at "
          f"http://{shown}:{port}/", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
