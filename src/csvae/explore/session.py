"""The explorer's state and its answers, one method per request of the page (JSON in, JSON out);
``csvae.explore.server`` only routes HTTP to these methods.

Moves are coalesced: every edit carries the page's ``client`` id and a growing ``seq``; an edit
that, once the model is free, is older than the newest one seen from that client for that run is
answered ``superseded`` without decoding, so the server never works through a backlog of stale
moves (the page itself keeps at most one edit in flight per run and sends only the newest).
"""

from __future__ import annotations

import base64
import io
import math
import threading
from collections import OrderedDict
from typing import Optional, Sequence

import numpy as np
from PIL import Image

from csvae.apply.labels import infer_labels
from csvae.constraints import is_integer
from csvae.evaluate.judge import Judge
from csvae.explore.gallery import Entry, Gallery, UploadError
from csvae.explore.views import Code, RunView
from csvae.plots import latent_panels

CACHE = 256
"""Encodings kept (run, input)."""
MAX_CLIENTS = 1024
"""Clients whose newest move is remembered for coalescing."""
MAX_COORDINATE = 1e4


class ApiError(Exception):
    """A request the explorer refuses: HTTP ``status`` and a message for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def png_bytes(pixels: np.ndarray) -> bytes:
    """uint8 (C, H, W) -> PNG file bytes."""
    hwc = np.ascontiguousarray(pixels.transpose(1, 2, 0))
    image = Image.fromarray(hwc[..., 0] if hwc.shape[2] == 1 else hwc)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def data_url(pixels: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode()


class Explorer:
    """Runs, inputs and judges of one ``csvae explore``."""

    def __init__(self, views: Sequence[RunView], gallery: Gallery, judges: Sequence[Optional[Judge]],
                 max_upload_bytes: int):
        self.views, self.gallery, self.judges = list(views), gallery, list(judges)
        self.max_upload_bytes = int(max_upload_bytes)
        self._codes: "OrderedDict[tuple, Code]" = OrderedDict()
        self._latest: "OrderedDict[tuple, int]" = OrderedDict()
        self._lock = threading.Lock()
        self.decodes = 0
        """Edits decoded (superseded ones are not): the coalescing test reads it."""

    # ----- requests ---------------------------------------------------------------------------------
    def state(self) -> dict:
        runs = []
        for r, (view, judge) in enumerate(zip(self.views, self.judges)):
            run = view.describe()
            run["judge"] = judge.attribute_names if judge is not None else None
            if view.kind == "vector":
                run["points"] = self._vector_points(r)
            runs.append(run)
        return {"runs": runs, "images": self.gallery.listing(), "max_upload_bytes": self.max_upload_bytes}

    def select(self, body: dict) -> dict:
        """Input, reconstruction, labels and code of an input for every run."""
        image_id = self._image_id(body)
        out = []
        for r, view in enumerate(self.views):
            code = self._code(r, image_id)
            with view.lock:
                recon = view.reconstruct(code)
            item = {"y": code.y.tolist(), "w": None if code.w is None else code.w.tolist(),
                    "probs": self._probs(r, recon)}
            if view.kind == "image":
                item.update(input=data_url(code.x[0].cpu().numpy()), recon=data_url(recon))
            else:
                item.update(input=code.x[0].cpu().numpy().tolist(), recon=recon.tolist())
            out.append(item)
        return {"image": image_id, "runs": out}

    def edit(self, body: dict) -> dict:
        """Decode one run's edit: subspace models from ``w``, the baselines from ``target``."""
        r, view = self._run(body)
        image_id = self._image_id(body)
        seq, client = body.get("seq", 0), str(body.get("client", ""))[:64]
        if not is_integer(seq):
            raise ApiError(400, "seq must be an integer")
        key = (client, r)
        with self._lock:
            self._latest[key] = max(seq, self._latest.get(key, seq))
            self._latest.move_to_end(key)
            while len(self._latest) > MAX_CLIENTS:
                self._latest.popitem(last=False)
        k = len(view.names)
        target = self._vector(body, "target", k, binary=True)
        w = self._vector(body, "w", k * view.model.w_dim) if view.model.has_subspaces else None
        code = self._code(r, image_id)
        with view.lock:
            with self._lock:
                if self._latest.get(key, seq) > seq:
                    return {"seq": seq, "superseded": True}
            edited = view.edit(code, target, w)
            self.decodes += 1
        result = data_url(edited) if view.kind == "image" else edited.tolist()
        return {"seq": seq, "edit": result, "probs": self._probs(r, edited)}

    def code(self, body: dict) -> dict:
        """An input's labels and code in one run (a transfer donor)."""
        r, view = self._run(body)
        code = self._code(r, self._image_id(body))
        return {"y": code.y.tolist(), "w": None if code.w is None else code.w.tolist()}

    def points(self, body: dict) -> dict:
        """Subspace points for labels ``target``: "class_mean", "prior_mean" or a seeded "sample"."""
        r, view = self._run(body)
        if not view.model.has_subspaces:
            raise ApiError(400, f"{view.label} has no label subspaces")
        how = body.get("how")
        if how not in ("class_mean", "prior_mean", "sample"):
            raise ApiError(400, "how must be class_mean, prior_mean or sample")
        seed = body.get("seed", 0)
        if not is_integer(seed) or not 0 <= seed < 2 ** 63:
            raise ApiError(400, "seed must be a non-negative integer")
        target = self._vector(body, "target", len(view.names), binary=True)
        with view.lock:
            return {"w": view.points(target, how, seed).tolist()}

    def upload(self, data: bytes, name: str) -> dict:
        if len(data) > self.max_upload_bytes:
            raise ApiError(413, f"{name} (upload) is {len(data)} bytes; it is limited to {self.max_upload_bytes} "
                                f"bytes (--max-upload-mb)")
        try:
            return self.gallery.add_upload(data, name)
        except UploadError as err:
            raise ApiError(400, str(err)) from None

    def thumbnail(self, image_id: str) -> bytes:
        """PNG of an input as the first run reads it (image runs)."""
        entry = self.gallery.get(image_id)
        if entry is None or self.views[0].kind != "image":
            raise ApiError(404, "no such image")
        return png_bytes(entry.load(0))

    # ----- helpers ----------------------------------------------------------------------------------
    def _run(self, body: dict) -> tuple[int, RunView]:
        r = body.get("run")
        if not is_integer(r) or not 0 <= r < len(self.views):
            raise ApiError(400, f"run must be an index 0..{len(self.views) - 1}")
        return r, self.views[r]

    def _image_id(self, body: dict) -> str:
        image_id = body.get("image")
        if self.gallery.get(image_id) is None:
            raise ApiError(404, "no such image (it may be an upload the server has since forgotten)")
        return image_id

    @staticmethod
    def _vector(body: dict, name: str, size: int, binary: bool = False) -> np.ndarray:
        values = body.get(name)
        ok = (isinstance(values, list) and len(values) == size
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values))
        if not ok or (binary and any(v not in (0, 1) for v in values)):
            kind = "0/1 values" if binary else "finite numbers"
            raise ApiError(400, f"{name} must be a list of {size} {kind}")
        return np.clip(np.asarray(values, np.float32), -MAX_COORDINATE, MAX_COORDINATE)

    def _code(self, r: int, image_id: str) -> Code:
        key = (r, image_id)
        with self._lock:
            if key in self._codes:
                self._codes.move_to_end(key)
                return self._codes[key]
        entry: Entry = self.gallery.get(image_id)
        view = self.views[r]
        x = entry.load(r)
        with view.lock:
            y = entry.labels if entry.labels is not None else infer_labels(view.model, np.array(x[None]), None,
                                                                            self.judges[r])[0]
            code = view.encode(x, y)
        with self._lock:
            self._codes[key] = code
            while len(self._codes) > CACHE:
                self._codes.popitem(last=False)
        return code

    def _probs(self, r: int, edited: np.ndarray) -> Optional[list]:
        judge = self.judges[r]
        if judge is None:
            return None
        return [round(float(p), 4) for p in judge.predict(edited[None])[0]]

    def _vector_points(self, r: int) -> dict:
        """A vector run's test examples for the page: the data (first 3 dims), labels, and the
        latent projections of the report."""
        view = self.views[r]
        entries = [(key, entry) for key, entry in self.gallery.entries.items() if key.startswith("test-")]
        x = np.stack([entry.load(r) for _, entry in entries]) if entries else np.zeros((0, *view.model.x_shape))
        y = np.stack([entry.labels for _, entry in entries]) if entries else np.zeros((0, len(view.names)))
        with view.lock:
            latents = view.model.latents(x, y) if len(x) else {}
        panels = latent_panels(latents, getattr(view.model, "w_dim", 2)) if latents else []
        return {"ids": [key for key, _ in entries], "x": np.round(x[:, :3], 4).tolist(), "y": y.tolist(),
                "panels": [{"x_label": a, "x": np.round(xs, 4).tolist(), "y_label": b, "y": np.round(ys, 4).tolist()}
                           for a, xs, b, ys in panels]}
