"""``csvae explore``: a latent explorer in the browser for finished runs (docs/explore.md).

Modules: ``views`` (one run: refusals at start, its controls, the model work), ``gallery`` (the
inputs on offer: test examples, --images files, in-memory uploads), ``judges`` (the judge shown
live), ``session`` (the answers to the page's requests, move coalescing), ``server`` (HTTP on the
standard library), ``static/`` (the page: plain HTML, CSS and JavaScript, nothing fetched from
elsewhere).
"""

from __future__ import annotations

import logging
import os
import webbrowser
from typing import Optional, Sequence

from csvae.apply.run import check_one_source, list_image_files
from csvae.data.checks import DataError
from csvae.explore.gallery import Gallery
from csvae.explore.judges import run_judges
from csvae.explore.server import LOOPBACK_HOSTS, ExploreServer
from csvae.explore.session import Explorer
from csvae.explore.views import RunRefused, RunView
from csvae.pretrained.registry import shipped

log = logging.getLogger("csvae.explore")

DEFAULT_MAX_UPLOAD_MB = 4.0
MAX_UPLOAD_MB = 1024
"""The largest --max-upload-mb (an upload is held in memory)."""


def open_explorer(runs: Sequence[str | os.PathLike], images: Sequence[str | os.PathLike] = (),
                  judge: Optional[str | os.PathLike] = None,
                  max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB, pretrained: Sequence[str] = ()) -> Explorer:
    """The explorer of ``runs``, or of the shipped models named ``pretrained`` (``csvae.pretrained``;
    not both), refused with RunRefused naming a folder that cannot be shown; image and vector runs
    are not mixed."""
    try:
        check_one_source(runs, pretrained)
    except DataError as err:
        raise RunRefused(str(err)) from None
    if not 0 < max_upload_mb <= MAX_UPLOAD_MB:
        raise ValueError(f"--max-upload-mb must be a number of MB in (0, {MAX_UPLOAD_MB}], got {max_upload_mb}")
    views = [RunView(run) for run in runs] + [RunView(entry.folder, entry.sha256) for entry in map(shipped, pretrained)]
    kinds = {view.kind for view in views}
    if len(kinds) > 1:
        raise RunRefused("the runs mix image and vector data (" + ", ".join(
            f"{v.run.root}: {v.kind}" for v in views) + "); explore them separately")
    if images and views[0].kind != "image":
        raise RunRefused(f"--images given, but {views[0].run.root} is a vector run")
    gallery = Gallery(views, list_image_files(images))
    return Explorer(views, gallery, run_judges(views, judge), int(max_upload_mb * (1 << 20)))


def serve(runs: Sequence[str | os.PathLike], images: Sequence[str | os.PathLike] = (),
          judge: Optional[str | os.PathLike] = None, host: str = "127.0.0.1", port: int = 0,
          open_browser: bool = False, max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
          pretrained: Sequence[str] = ()) -> None:
    """``csvae explore``: start the server, print its address, serve until interrupted."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"--port must be 0 (a free port) or a port number up to 65535, got {port}")
    explorer = open_explorer(runs, images, judge, max_upload_mb, pretrained)
    server = ExploreServer(explorer, host, port)
    if host not in LOOPBACK_HOSTS:
        log.warning("listening on %s: anyone who can reach this address can use the page, which has "
                    "no login; use the default --host 127.0.0.1 unless that is what you want", host)
    print(f"csvae explore: {server.url} ({len(explorer.views)} run(s), {len(explorer.gallery.entries)} inputs; "
          f"Ctrl-C stops)", flush=True)
    if open_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


__all__ = ["open_explorer", "serve", "Explorer", "ExploreServer", "RunView", "RunRefused"]
