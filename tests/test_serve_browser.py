"""serve.py's page in a real browser: headless Chromium (the system's) types a prompt into the page
served by the real server and checks that the grid shows the generator's images for it, with each
backend: PyTorch, and ONNX Runtime on the generator's exported graphs (``--backend onnxruntime``).

Needs /usr/bin/chromium and /usr/bin/chromedriver (``apt-get install chromium chromium-driver``;
``scripts/test.sh`` installs them; without them the test is skipped, or fails where
``GANBLOCKS_REQUIRE_BROWSER=1``). A screenshot goes to the test's temporary folder, and also to
``$SERVE_SCREENSHOT`` when that is set (the docs' screenshot is made this way).
"""

import base64
import io
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

from bench_serve import CHROMEDRIVER, CHROMIUM, open_page, save_random_run, start_browser, start_server, stop_server, type_prompt  # noqa: E402,I001

WAIT = 60  # seconds, for every wait on the page


def need_browser() -> None:
    """Skip without the system's Chromium, or fail where it must be there (GANBLOCKS_REQUIRE_BROWSER=1)."""
    if Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file():
        return
    message = (f"no {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver "
               "(scripts/test.sh installs them)")
    if os.environ.get("GANBLOCKS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"GANBLOCKS_REQUIRE_BROWSER=1 but {message}")
    pytest.skip(f"browser test: {message}")


def decode(data_url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB"))


def grid_images(driver) -> tuple[list[int], np.ndarray]:
    from selenium.webdriver.common.by import By

    imgs = driver.find_element(By.ID, "grid").find_elements(By.TAG_NAME, "img")
    return [int(i.get_attribute("data-seed")) for i in imgs], np.stack([decode(i.get_attribute("src")) for i in imgs])


def generator_images(G, prompt: str, seeds: list[int], psi: float = 1.0) -> np.ndarray:
    from evaluate import to_uint8

    return to_uint8(G.generate([prompt] * len(seeds), seeds, truncation_psi=psi)).permute(0, 2, 3, 1).numpy()


def same_images(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal but for float rounding of a differently batched pass (1 level of 255, rarely)."""
    d = np.abs(a.astype(int) - b.astype(int))
    return a.shape == b.shape and d.max() <= 1 and (d > 0).mean() < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_the_page_draws_the_generators_images_as_a_prompt_is_typed(tmp_path: Path, backend: str) -> None:
    need_browser()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from config import preset
    from generate import load_generator

    run = save_random_run(tmp_path / "run", preset("shapes", resolution=32, channel_max=32, z_dim=8, clip_weights=None))
    G, _ = load_generator(run)
    served, args = run, []
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnxscript")
        served, args = tmp_path / "exported", ["--backend", "onnxruntime"]
        G.export_onnx(served)
    proc, url = start_server(served, *args)
    driver = None
    try:
        driver = start_browser(tmp_path / "profile", width=1200, height=620)
        open_page(driver, url, WAIT)
        chips = driver.find_elements(By.CSS_SELECTOR, "#chips button")
        assert len(chips) == 8  # ShapesT2I's example prompts are offered

        prompt = "a red circle in the center"
        record = type_prompt(driver, prompt, WAIT)
        seeds, shown = grid_images(driver)
        assert seeds == list(range(8))
        assert same_images(shown, generator_images(G, prompt, seeds))
        assert not same_images(shown, generator_images(G, "a blue square at the top", seeds))
        timing = driver.find_element(By.ID, "timing").text
        assert "generated in" in timing and "ms from keystroke to grid" in timing
        assert 0 < record["generation_ms"] <= record["latency_ms"] < WAIT * 1000

        second = "a blue square at the top"  # the grid follows the prompt
        type_prompt(driver, second, WAIT)
        assert same_images(grid_images(driver)[1], generator_images(G, second, seeds))

        seed_box = driver.find_element(By.ID, "seed")  # the seed control moves the grid
        seed_box.clear()
        seed_box.send_keys("20")
        WebDriverWait(driver, WAIT).until(lambda d: d.find_element(By.ID, "grid").get_attribute("data-seeds").startswith("20,"))
        seeds, shown = grid_images(driver)
        assert seeds == list(range(20, 28)) and same_images(shown, generator_images(G, second, seeds))

        grid_png = decode(driver.execute_script("return window.serveGridPNG()"))  # what "download grid" saves
        assert grid_png.shape == (2 + 34, 2 + 8 * 34, 3) and (grid_png[2:34, 2:34] == shown[0]).all()

        driver.find_element(By.ID, "walk").click()  # walk: frames between seeds 20.. and 28..
        WebDriverWait(driver, WAIT).until(
            lambda d: 0 < float(d.find_element(By.ID, "grid").get_attribute("data-walk") or 0) < 1)
        assert "walk:" in driver.find_element(By.ID, "timing").text
        driver.save_screenshot(str(tmp_path / "serve-walk.png"))
        driver.find_element(By.ID, "walk").click()
        WebDriverWait(driver, WAIT).until(lambda d: d.find_element(By.ID, "grid").get_attribute("data-walk") == "")

        prompt_box = driver.find_element(By.ID, "prompt")  # a refused prompt: the reason, and the page keeps working
        driver.execute_script("arguments[0].value = 'red '.repeat(40); arguments[0].dispatchEvent(new Event('input'))", prompt_box)
        WebDriverWait(driver, WAIT).until(lambda d: "tokens" in d.find_element(By.ID, "error").text)
        type_prompt(driver, prompt, WAIT)
        assert driver.find_element(By.ID, "error").text == ""

        screenshot = tmp_path / "serve-page.png"
        driver.save_screenshot(str(screenshot))
        assert Image.open(screenshot).size[0] > 0
        if os.environ.get("SERVE_SCREENSHOT") and backend == "torch":
            shutil.copyfile(screenshot, os.environ["SERVE_SCREENSHOT"])
    finally:
        if driver is not None:
            driver.quit()
        code = stop_server(proc)
    assert code in (0, -signal.SIGTERM)
