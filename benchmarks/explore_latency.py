"""Latency of ``csvae explore``: pad move to new image on screen, in headless Chromium.

For each image size (--sizes, default 32 and 64 px) an untrained CSVAE with the networks of the
synthetic-faces preset (configs/synthetic_faces/csvae.yaml; a trained model decodes at the same
speed) is served on 127.0.0.1; the page's W_0 pad gets 50 moves, each waiting for its image (the
figure of the issue: p50 and p95 of move -> image decoded on screen, measured by the page with
performance.now()), then 50 moves without waiting (how many requests the coalescing sent). The
server's own share (one edit: decode + PNG + judge-free JSON, no HTTP) is timed too. Prints the
load average: run it on a quiet machine. Needs playwright and a system Chromium (scripts/setup.sh).
Usage:
    python benchmarks/explore_latency.py [--sizes 32 64] [--threads 2] [--moves 50]
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from playwright.sync_api import sync_playwright

from csvae.api import model_from_config, save_final
from csvae.configfile import load_config
from csvae.data import load_dataset
from csvae.datacard import card_of_dataset
from csvae.explore import ExploreServer, open_explorer
from csvae.rundir import RunDir

PRESET = Path(__file__).resolve().parents[1] / "configs" / "synthetic_faces" / "csvae.yaml"


def preset_run(out: Path, size: int) -> Path:
    """A run folder with an untrained preset CSVAE for synthetic faces of ``size`` px."""
    config = load_config(PRESET)
    config.data.n_samples, config.data.image_size = 400, size
    data = load_dataset(config.data)
    model = model_from_config(config.model, data.x.shape[1:], data.y.shape[1], seed=0)
    model.data_card = card_of_dataset(data, config.data)
    save_final(model, config, RunDir(out))
    return out


def settle(page, expression: str) -> None:
    while not page.evaluate(expression):
        time.sleep(0.002)


SHOWN = "exploreRuns[0] && exploreRuns[0].seq > 0 && exploreRuns[0].shown === exploreRuns[0].seq"


def measure(browser, run: Path, moves: int) -> dict:
    explorer = open_explorer([run])
    body = {"run": 0, "image": "test-0", "target": [0, 0, 0], "client": "bench", "seq": 0}
    body["w"] = explorer.select({"image": "test-0"})["runs"][0]["w"]
    server_ms = []
    for k in range(20):
        start = time.perf_counter()
        explorer.edit({**body, "seq": k + 1, "w": [v + 0.01 * k for v in body["w"]]})
        server_ms.append((time.perf_counter() - start) * 1000)
    server = ExploreServer(explorer, "127.0.0.1", 0)
    server.start_background()
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        page.goto(server.url)
        settle(page, "document.body.dataset.ready === '1'")
        settle(page, SHOWN)
        box = page.locator("#pad-0-0").bounding_box()
        x0, y0 = box["x"] + 10, box["y"] + box["height"] - 10
        page.mouse.move(x0, y0)
        page.mouse.down()
        settle(page, SHOWN)
        page.evaluate("exploreStats.latencies.length = 0")
        for k in range(moves):
            page.mouse.move(x0 + (k * 2.5) % (box["width"] - 20), y0 - (k * 1.7) % (box["height"] - 20))
            settle(page, SHOWN)
        latencies = page.evaluate("exploreStats.latencies")
        sent = page.evaluate("exploreStats.sent")
        for k in range(moves):
            page.mouse.move(x0 + (k * 2.5) % (box["width"] - 20), y0 - (k * 1.3) % (box["height"] - 20))
        page.mouse.up()
        settle(page, SHOWN + " && !exploreRuns[0].inflight")
        rapid = page.evaluate("exploreStats.sent") - sent
    finally:
        page.close()
        server.shutdown()
        server.server_close()
    return {"p50": statistics.median(latencies), "p95": float(np.percentile(latencies, 95)),
            "max": max(latencies), "server_p50": statistics.median(server_ms), "rapid_requests": rapid}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--moves", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    chromium = os.environ.get("CSVAE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; torch threads {args.threads}; "
          f"{args.moves} moves; browser {chromium}")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        for size in args.sizes:
            result = measure(browser, preset_run(Path(tmp) / f"run{size}", size), args.moves)
            print(f"{size:3d} px: move -> image on screen p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, "
                  f"max {result['max']:.1f} ms; server edit alone p50 {result['server_p50']:.1f} ms; "
                  f"{args.moves} rapid moves sent {result['rapid_requests']} requests")
        browser.close()


if __name__ == "__main__":
    main()
