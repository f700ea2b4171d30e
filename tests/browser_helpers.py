"""Headless Chromium for the explorer's browser tests, driven by Playwright for Python.

The browser is the system's Chromium (Debian's ``chromium``, installed by scripts/setup.sh) passed
to Playwright as ``executable_path`` ($CSVAE_CHROMIUM names another); Playwright's own download is
never used. Where no browser can be started the tests skip, saying why."""

import base64
import io
import os
import shutil
import time

import numpy as np
import pytest
from PIL import Image

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path():
    return os.environ.get("CSVAE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def launch(playwright):
    """A headless Chromium, or pytest.skip with the reason."""
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium: install Debian's chromium (scripts/setup.sh does) or set CSVAE_CHROMIUM")
    try:
        return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
    except Exception as err:  # noqa: BLE001 (any launch failure means: no browser here)
        pytest.skip(f"Chromium at {path} does not start under Playwright: {err}")


def decode_data_url(url: str) -> np.ndarray:
    """(H, W, C) pixels of a data:image/png;base64 URL."""
    assert url.startswith("data:image/png;base64,"), url[:40]
    return np.array(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def wait_until(page, expression: str, timeout: float = 30.0) -> None:
    """Poll a JavaScript expression until it is true. (Playwright's wait_for_function evaluates
    strings with eval inside the page, which the page's Content-Security-Policy forbids.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.002)


def wait_shown(page, run=0):
    """Wait until the newest move of ``run`` is on screen."""
    wait_until(page, f"exploreRuns[{run}] !== undefined && exploreRuns[{run}].seq > 0 && "
                     f"exploreRuns[{run}].shown === exploreRuns[{run}].seq && !exploreRuns[{run}].inflight")


def pad_point(page, pad_id, value_x, value_y):
    """Page coordinates of the W point (value_x, value_y) on a pad."""
    pad = page.locator(f"#{pad_id}")
    lo, hi = float(pad.get_attribute("data-lo")), float(pad.get_attribute("data-hi"))
    box = pad.bounding_box()
    fx, fy = (value_x - lo) / (hi - lo), (value_y - lo) / (hi - lo)
    return box["x"] + fx * box["width"], box["y"] + (1 - fy) * box["height"]


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q)) if len(values) else float("nan")
