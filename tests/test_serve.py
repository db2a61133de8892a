"""examples/stylegan_t/serve.py: the HTTP API in process, bad input, start-up errors, and the real
server (concurrent clients, no file outside its assets). The API tests run with both backends:
PyTorch, and ONNX Runtime on the run's exported graphs, both checked against PyTorch's images."""

import base64
import io
import json
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "stylegan_t"

from bench_serve import save_random_run, start_server, stop_server  # noqa: E402

PROMPT = "a red circle in the center"
EMOJI_CAPTION = re.compile(r"[^\n]+, (google|twitter) style")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    from config import preset

    return save_random_run(tmp_path_factory.mktemp("serve") / "run",
                           preset("shapes", resolution=32, channel_max=32, z_dim=8, clip_weights=None))


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory) -> Path:
    """The run's generator exported for ONNX Runtime (generate.py --export-onnx's folder)."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from generate import load_generator

    G, _ = load_generator(run)
    folder = tmp_path_factory.mktemp("serve-onnx") / "exported"
    G.export_onnx(folder)
    return folder


@pytest.fixture(scope="module", params=["torch", "onnxruntime"])
def served(request, run):
    """The app on either backend, and PyTorch's generator: the images both must draw."""
    from starlette.testclient import TestClient

    import serve
    from serve_engine import Renderer

    G, cfg = serve.load_model(run, "cpu")
    model, path = G, run
    if request.param == "onnxruntime":
        path = request.getfixturevalue("exported")
        model, cfg = serve.load_model(path, "cpu", "onnxruntime")
    app = serve.create_app(Renderer(model, cache_size=64), cfg, checkpoint=str(path))
    with TestClient(app) as client:
        yield client, G, app


def decode(data_url: str) -> np.ndarray:
    assert data_url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def generate(client, **body) -> dict:
    r = client.post("/api/generate", json={"prompt": PROMPT, **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_generate_returns_count_pngs_of_the_generators_images(served) -> None:
    from evaluate import to_uint8

    client, G, _ = served
    reply = generate(client, seed=3, count=5, truncation=0.7)
    assert reply["seeds"] == [3, 4, 5, 6, 7] and reply["generation_ms"] > 0 and reply["round_images"] == 5
    images = np.stack([decode(u) for u in reply["images"]])
    assert images.shape == (5, 32, 32, 3) and images.dtype == np.uint8
    expected = to_uint8(G.generate([PROMPT] * 5, [3, 4, 5, 6, 7], truncation_psi=0.7)).permute(0, 2, 3, 1).numpy()
    diff = np.abs(images.astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3  # float rounding of a differently batched pass at most


def test_same_prompt_and_seed_give_the_same_bytes(served) -> None:
    client, _, _ = served
    a, b = generate(client, seed=11, count=2), generate(client, seed=11, count=2)
    assert a["images"] == b["images"]
    new, again = generate(client, prompt="a new prompt", count=1), generate(client, prompt="a new prompt", count=1)
    assert new["text_ms"] > 0 and again["text_ms"] == 0  # a prompt is encoded once
    assert generate(client, seeds=[11, 12])["images"] == a["images"]
    # alone in a batch of one, seed 12 is the same image up to the float rounding of a
    # differently batched pass (the cross-attention's matrix products round by batch shape)
    alone, paired = decode(generate(client, seeds=[12])["images"][0]), decode(a["images"][1])
    diff = np.abs(alone.astype(int) - paired.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-2
    assert generate(client, seeds=[13])["images"][0] != a["images"][1]


def test_walk_and_truncation(served) -> None:
    client, _, _ = served
    start, end = generate(client, seed=0, count=2), generate(client, seed=2, count=2)
    assert generate(client, seed=0, count=2, to=2, t=0.0)["images"] == start["images"]
    assert generate(client, seed=0, count=2, to=[2, 3], t=1.0)["images"] == end["images"]
    middle = generate(client, seed=0, count=2, to=2, t=0.5)
    assert middle["to"] == [2, 3] and middle["images"][0] not in (start["images"][0], end["images"][0])
    mean = generate(client, seed=0, count=3, truncation=0.0)["images"]  # psi 0: the mean latent for every seed
    assert mean[0] == mean[1] == mean[2]


def test_the_shipped_model_serves_with_emoji_prompts_of_its_training_data() -> None:
    from starlette.testclient import TestClient

    import serve
    from serve_engine import Renderer

    G, cfg = serve.load_model(serve.DEFAULT_MODEL, "cpu")  # what serve.py serves without --checkpoint
    assert serve.DEFAULT_MODEL == "ganblocks/emoji-32" and cfg is None and G.resolution == 32
    with TestClient(serve.create_app(Renderer(G), cfg, checkpoint=serve.DEFAULT_MODEL)) as client:
        info = client.get("/api/info").json()
        assert info["checkpoint"] == "ganblocks/emoji-32" and info["resolution"] == 32
        assert info["suggestions"] == G.training_info["example_prompts"]
        assert len(info["suggestions"]) >= 8 and all(EMOJI_CAPTION.fullmatch(s) for s in info["suggestions"])
        reply = client.post("/api/generate", json={"prompt": info["suggestions"][0], "count": 2}).json()
        assert [decode(u).shape for u in reply["images"]] == [(32, 32, 3)] * 2


def test_suggestions_of_a_model_without_a_run_come_from_its_training_info() -> None:
    import serve

    class Model:
        def __init__(self, **info) -> None:
            self.training_info = info

    assert serve.suggestions(None, Model(example_prompts=["cat face, google style"], data="EmojiT2I (...)")) == [
        "cat face, google style"]
    shapes = serve.suggestions(None, Model(data="ShapesT2I (ganblocks' synthetic captioned shapes)"))
    assert len(shapes) > 5 and shapes == serve.suggestions(serve.Config())  # a ShapesT2I run's
    assert serve.suggestions(None, Model(data="my_images")) == serve.suggestions(None, Model()) == []


def test_info_and_page(served) -> None:
    client, _, _ = served
    info = client.get("/api/info").json()
    assert info["resolution"] == 32 and info["context_tokens"] == 32 and info["max_count"] == 64
    assert len(info["suggestions"]) > 5 and all(isinstance(s, str) and s for s in info["suggestions"])
    page = client.get("/")
    assert page.status_code == 200 and 'id="prompt"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace("http-equiv", "")  # no CDN: everything from this server
    for name in ("app.js", "style.css"):
        r = client.get(f"/assets/{name}")
        assert r.status_code == 200 and r.content == (EXAMPLE / "serve_assets" / name).read_bytes()
        assert "http://" not in r.text and "https://" not in r.text


BAD = [
    (b"", 400, "malformed"),
    (b"{not json", 400, "malformed"),
    (b"\xff\xfe", 400, "malformed"),
    (b"[1, 2]", 400, "JSON object"),
    (b'{"prompt": "x", "prompt2": 1}', 400, "unknown field 'prompt2'"),
    (b'{"seed": 1}', 400, "prompt must be text"),
    (b'{"prompt": 5}', 400, "prompt must be text"),
    (b'{"prompt": ["a"]}', 400, "prompt must be text"),
    (b'{"prompt": null}', 400, "prompt must be text"),
    (b'{"prompt": ""}', 400, "prompt is empty"),
    (b'{"prompt": "\\ud800"}', 400, "not valid Unicode text: a lone surrogate (U+D800) at character 0"),
    (b'{"prompt": "a red \\udfff circle"}', 400, "lone surrogate (U+DFFF) at character 6"),
    (b'{"prompt": "  \\n\\t "}', 400, "prompt is empty"),
    (json.dumps({"prompt": "a" * 1001}).encode(), 400, "1001 characters, at most 1000"),
    (json.dumps({"prompt": "red " * 40}).encode(), 400, "42 tokens, the text encoder reads at most 32"),
    (b'{"prompt": "x", "count": 0}', 400, "count must be in [1, 64]"),
    (b'{"prompt": "x", "count": 65}', 400, "count must be in [1, 64]"),
    (b'{"prompt": "x", "count": "8"}', 400, "count must be an integer"),
    (b'{"prompt": "x", "seed": -1}', 400, "seed must be in"),
    (b'{"prompt": "x", "seed": 2147483648}', 400, "seed must be in"),
    (b'{"prompt": "x", "seed": 2147483647, "count": 2}', 400, "seed + count - 1"),
    (b'{"prompt": "x", "seed": 1.5}', 400, "seed must be an integer"),
    (b'{"prompt": "x", "seed": true}', 400, "seed must be an integer"),
    (b'{"prompt": "x", "seeds": []}', 400, "seeds must list 1 to 64"),
    (b'{"prompt": "x", "seeds": [1, "2"]}', 400, "seeds must be an integer"),
    (b'{"prompt": "x", "seeds": [1], "seed": 1}', 400, "not both"),
    (b'{"prompt": "x", "truncation": NaN}', 400, "truncation must be a number"),
    (b'{"prompt": "x", "truncation": 3}', 400, "truncation must be in [0.0, 2.0]"),
    (b'{"prompt": "x", "to": 8}', 400, "needs both"),
    (b'{"prompt": "x", "to": 8, "t": 1.5}', 400, "t must be in [0.0, 1.0]"),
    (b'{"prompt": "x", "count": 2, "to": [1, 2, 3], "t": 0.5}', 400, "to must list 2 seeds"),
    (b'{"prompt": "x", "client": ""}', 400, "client must be"),
    (json.dumps({"prompt": "x" * 20000}).encode(), 413, "too large"),
]


@pytest.mark.parametrize("body,status,needle", BAD, ids=[f"{i}-{s}" for i, (_, s, _) in enumerate(BAD)])
def test_bad_requests_get_a_4xx_with_one_line_and_nothing_is_generated(served, body: bytes, status: int, needle: str) -> None:
    client, _, app = served
    rounds = app.state.batcher.rounds
    r = client.post("/api/generate", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status
    reason = r.json()["error"]
    assert needle in reason and "\n" not in reason and len(reason) < 200
    assert app.state.batcher.rounds == rounds  # nothing generated
    assert len(generate(client, count=1)["images"]) == 1  # still serving


def test_unknown_paths_and_methods_get_a_one_line_4xx(served) -> None:
    client, _, _ = served
    for method, path, status in [("GET", "/api/generate", 405), ("GET", "/nope", 404), ("GET", "/assets/nope.js", 404),
                                 ("POST", "/api/info", 405), ("GET", "/assets/", 404)]:
        r = client.request(method, path)
        assert r.status_code == status, path
        assert "\n" not in r.json()["error"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status")


@pytest.mark.slow
def test_memory_stays_flat_over_many_requests(served) -> None:
    client, _, app = served
    for i in range(30):
        generate(client, prompt=f"a red circle {i}", seed=i, count=8)
    before = rss_mb()
    for i in range(150):  # new prompts: the text-embedding cache fills to its bound, then stays there
        generate(client, prompt=f"a blue square {i}", seed=i, count=8)
    assert rss_mb() - before < 25
    renderer = app.state.batcher.renderer
    assert len(renderer._texts) == renderer.cache_size


def run_serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLE / "serve.py"), *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["missing", "not-a-checkpoint", "corrupt"])
def test_a_missing_or_wrong_checkpoint_exits_2_with_one_line(tmp_path: Path, run: Path, case: str) -> None:
    if case == "missing":
        path = tmp_path / "nonexistent"
    elif case == "not-a-checkpoint":
        path = tmp_path
        (tmp_path / "notes.txt").write_text("hello")
    else:  # a checkpoint whose weights file was cut short
        import shutil

        path = tmp_path / "run"
        shutil.copytree(run, path)
        weights = next(path.glob("checkpoints/step-*/G_ema.safetensors"))
        weights.write_bytes(weights.read_bytes()[:1000])
    r = run_serve("--checkpoint", str(path), "--port", "0")
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot load a generator from") and str(path) in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["missing", "a-run", "corrupt", "newer", "half-written"])
def test_a_missing_or_wrong_export_exits_2_with_one_line(tmp_path: Path, run: Path, exported: Path, case: str) -> None:
    import shutil

    path = tmp_path / "exported"
    if case == "a-run":  # a run folder, not an export
        path = run
    elif case != "missing":
        shutil.copytree(exported, path)
    if case == "corrupt":
        graph = path / "generator.onnx"
        graph.write_bytes(graph.read_bytes()[:1000])
    elif case == "newer":
        meta = json.loads((path / "model.json").read_text())
        (path / "model.json").write_text(json.dumps({**meta, "format_version": 99, "ganblocks_version": "9.9"}))
    elif case == "half-written":
        (path / "model.json").write_text('{"format": "ganblocks-onnx", "format_')
    r = run_serve("--checkpoint", str(path), "--port", "0", "--backend", "onnxruntime")
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot load a generator from") and str(path) in lines[0]
    needle = {"missing": "not a folder", "a-run": "holds no model.json", "corrupt": "not a readable ONNX graph",
              "newer": "format version 99", "half-written": "not valid JSON"}[case]
    assert needle in lines[0]


@pytest.mark.slow
def test_bad_arguments_and_a_busy_port_exit_2(run: Path) -> None:
    r = run_serve("--checkpoint", str(run), "--precision", "fp8")
    assert r.returncode == 2 and "invalid choice" in r.stderr and "Traceback" not in r.stderr
    r = run_serve("--checkpoint", str(run), "--backend", "onnxruntime", "--precision", "bf16")
    assert r.returncode == 2 and "runs on the CPU in fp32" in r.stderr and "Traceback" not in r.stderr
    r = run_serve("--backend", "onnxruntime")  # the shipped model is PyTorch weights: ONNX needs an export
    assert r.returncode == 2 and "needs --checkpoint DIR" in r.stderr and "Traceback" not in r.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        r = run_serve("--checkpoint", str(run), "--port", str(busy.getsockname()[1]))
    assert r.returncode == 2 and r.stderr.startswith("error: cannot listen on 127.0.0.1:") and "Traceback" not in r.stderr


def test_without_checkpoint_the_server_serves_the_shipped_emoji_model() -> None:
    import os
    import urllib.request

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, str(EXAMPLE / "serve.py"), "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        box: dict[str, str] = {}
        reader = threading.Thread(target=lambda: box.setdefault("line", proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(300)
        line = box.get("line", "")
        assert line.startswith("serving ganblocks/emoji-32 (32 px, cpu, fp32) at http://"), line
        with urllib.request.urlopen(line.rsplit(" at ", 1)[1].strip() + "api/info", timeout=60) as r:
            info = json.loads(r.read())
        assert info["checkpoint"] == "ganblocks/emoji-32"
        assert len(info["suggestions"]) >= 8 and all(EMOJI_CAPTION.fullmatch(s) for s in info["suggestions"])
    finally:
        assert stop_server(proc) in (0, -signal.SIGTERM)


@pytest.fixture(scope="module")
def live(run):
    proc, url = start_server(run)
    yield proc, url
    assert stop_server(proc) in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after its clean shutdown


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """A GET with the path sent exactly as given (no client-side normalisation of '..')."""
    host, port = url.split("//")[1].strip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("path", [
    "/assets/../serve.py", "/assets/..%2fserve.py", "/assets/%2e%2e/serve.py", "/assets/%2e%2e%2fserve.py",
    "/assets/..%5cserve.py", "/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fREADME.md", "/assets//etc/passwd",
    "/assets/%2fetc%2fpasswd", "/../../../../etc/passwd", "/assets/.%2e/config.py", "/serve_assets/app.js",
    "/assets/app.js/../../serve.py", "/assets/app.js%00.py", "/assets/APP.JS", "/serve.py", "/%2e%2e/serve.py",
])
def test_no_file_outside_the_assets_is_served(live, path: str) -> None:
    _, url = live
    status, body = raw_get(url, path)
    assert status in (400, 404), (path, status)
    for secret in (b"root:", b"import ", b"def ", b"# ganblocks"):
        assert secret not in body
    assert raw_get(url, "/assets/app.js")[0] == 200


@pytest.mark.slow
def test_the_real_server_batches_concurrent_clients_and_keeps_serving(live) -> None:
    import http.client

    _, url = live
    host, port = url.split("//")[1].strip("/").split(":")
    replies: dict[int, dict] = {}

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        for k in range(3):
            conn.request("POST", "/api/generate", json.dumps({"prompt": f"{PROMPT} {i}", "seed": k, "count": 4}))
            r = conn.getresponse()
            replies[(i, k)] = {"status": r.status, **json.loads(r.read())}

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(replies) == 24 and all(r["status"] == 200 and len(r["images"]) == 4 for r in replies.values())
    assert max(r["round_images"] for r in replies.values()) > 4  # some requests shared a forward pass
    status, _ = raw_get(url, "/api/info")
    assert status == 200
