"""`csvae explore --pretrained NAME` in a real browser: the command serves a shipped model (the
package's synthetic-faces-csvae, or where it is not shipped a tiny one exported into a temporary
registry) with its shipped test images, and a pad drag edits."""

import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from browser_helpers import decode_data_url, launch, pad_point, wait_shown
from pretrained_helpers import tiny_registry

playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="playwright is not installed (pip install -e .[dev])")

from csvae.pretrained.registry import read_registry  # noqa: E402

NAME = "synthetic-faces-csvae" if "synthetic-faces-csvae" in read_registry() else "tiny-faces-csvae"


@pytest.fixture(scope="module")
def served(request, tmp_path_factory):
    """`csvae explore --pretrained NAME` running as a command; yields (url, seconds to serve)."""
    tmp = tmp_path_factory.mktemp("pretrained-browser")
    env = {**os.environ, "CSVAE_CACHE_DIR": str(tmp / "cache"), "OMP_NUM_THREADS": "1"}
    if NAME == "tiny-faces-csvae":
        registry, _ = tiny_registry(request.config.rootpath, tmp, NAME)
        env["CSVAE_PRETRAINED_DIR"] = str(registry)
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "csvae.cli", "explore", "--pretrained", NAME],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert found, f"csvae explore printed {line!r}"
        yield found.group(0), time.perf_counter() - start
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_explore_serves_a_pretrained_model(served):
    url, seconds = served
    print(f"csvae explore --pretrained served its page {seconds:.1f} s after the command started")
    with playwright_api.sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']")
        wait_shown(page)
        assert page.locator("#gallery img").count() == 16  # the test images shipped in arrays.npz
        assert f"CSVAE on synthetic_faces ({NAME})" in page.content()
        before = decode_data_url(page.locator("#edit-0").get_attribute("src")).astype(int)
        page.mouse.move(*pad_point(page, "pad-0-0", -1, -1))
        page.mouse.down()
        page.mouse.move(*pad_point(page, "pad-0-0", 4, 4), steps=5)
        page.mouse.up()
        wait_shown(page)
        after = decode_data_url(page.locator("#edit-0").get_attribute("src")).astype(int)
        assert np.abs(after - before).max() >= 1
        browser.close()
    assert errors == []
