"""The HTTP layer of ``csvae explore``: the standard library's threading HTTP server (no new
dependency; docs/explore.md has the measurement behind the choice) routing a fixed set of paths
to ``csvae.explore.session.Explorer``.

Served: the page and its two assets from the package (nothing else of the file system; any other
path is 404), ``/api/*`` JSON requests, thumbnails by input id, and uploads (raw bytes, at most
``max_upload_bytes``, decoded in memory and never written to disk). A client that disconnects
mid-request costs only its own thread.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Optional
from urllib.parse import parse_qs, unquote, urlsplit

from csvae.data.checks import DataError
from csvae.explore.session import ApiError, Explorer
from csvae.safeio import parse_json

log = logging.getLogger("csvae.explore")

STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/static/explore.js": ("explore.js", "text/javascript; charset=utf-8"),
          "/static/explore.css": ("explore.css", "text/css; charset=utf-8")}
"""The only files served: URL path -> (file in csvae/explore/static, content type)."""
MAX_JSON_BYTES = 1 << 20
REQUEST_TIMEOUT = 30.0
"""Seconds a connection may stall mid-request before its thread gives up."""
POSTS = {"/api/select": "select", "/api/edit": "edit", "/api/code": "code", "/api/points": "points"}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""--host values that keep the server on this machine (anything else: a warning)."""
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
"""Host header names a loopback server answers."""
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                                               "style-src 'self'; script-src 'self'; connect-src 'self'"}


def static_file(name: str) -> bytes:
    return resources.files("csvae.explore").joinpath("static", name).read_bytes()


class Handler(BaseHTTPRequestHandler):
    """Routes one request; ``server.explorer`` answers it."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else a reply in two segments waits ~40 ms for a delayed ACK
    timeout = REQUEST_TIMEOUT
    server_version = "csvae-explore"

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        log.debug("%s %s", self.address_string(), format % args)

    @property
    def explorer(self) -> Explorer:
        return self.server.explorer

    # ----- replies ------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, extra: Optional[dict] = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": content_type, "Content-Length": str(len(body)), "Cache-Control": "no-store",
                   **SECURITY_HEADERS, **(extra or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _guarded(self, work) -> None:
        try:
            work()
        except ApiError as err:
            self._error(err.status, err.message)
        except DataError as err:  # e.g. a listed image file that cannot be read (the message names it)
            self._error(400, str(err))
        except (ConnectionError, TimeoutError):  # the client went away (socket.timeout is a TimeoutError)
            self.close_connection = True
        except Exception as err:  # a bug must not kill the server; the page shows the message
            log.exception("explore: %s %s failed", self.command, self.path)
            try:
                self._error(500, f"internal error: {type(err).__name__}: {err}")
            except OSError:
                self.close_connection = True

    def _body(self, limit: int, what: str = "the request body") -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise ApiError(411, "the request needs a Content-Length header")
        if int(length) > limit:
            self.close_connection = True  # the unread body must not be taken for the next request
            raise ApiError(413, f"{what} is {int(length)} bytes; it is limited to {limit} bytes")
        data = self.rfile.read(int(length))
        if len(data) != int(length):
            self.close_connection = True
            raise ApiError(400, "the request body ended early")
        return data

    # ----- routes -------------------------------------------------------------------------------
    def do_GET(self):
        self._guarded(self._checked(self._get))

    def do_HEAD(self):
        self._guarded(self._checked(self._get))

    def do_POST(self):
        self._guarded(self._checked(self._post))

    def _checked(self, route):
        """``route`` after the checks every request passes: a server on loopback answers only
        requests addressed to loopback (a page elsewhere cannot reach it by DNS rebinding)."""
        def work():
            if self.server.loopback:
                host = (self.headers.get("Host") or "").strip().lower()
                name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
                if name not in LOOPBACK_NAMES:
                    raise ApiError(403, f"this explorer answers requests for 127.0.0.1 or localhost, not {host!r}")
            route()
        return work

    def _get(self) -> None:
        url = urlsplit(self.path)
        if url.path in STATIC:
            name, content_type = STATIC[url.path]
            self._send(200, static_file(name), content_type)
        elif url.path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        elif url.path == "/api/state":
            self._json(200, self.explorer.state())
        elif url.path == "/api/thumbnail":
            image_id = parse_qs(url.query).get("id", [""])[0]
            self._send(200, self.explorer.thumbnail(image_id), "image/png")
        else:
            raise ApiError(404, "not found")

    def _post(self) -> None:
        path = urlsplit(self.path).path
        if path == "/api/upload":
            if "X-Filename" not in self.headers:  # a custom header: cross-origin only after a preflight
                raise ApiError(400, "an upload needs an X-Filename header")
            name = unquote(self.headers["X-Filename"])[:120] or "upload"
            data = self._body(self.explorer.max_upload_bytes, f"{name} (upload)")
            self._json(200, self.explorer.upload(data, name))
            return
        if path not in POSTS:
            raise ApiError(404, "not found")
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            raise ApiError(415, "API requests are JSON (Content-Type: application/json)")
        try:
            body = parse_json(self._body(MAX_JSON_BYTES))
        except ValueError as err:  # not JSON, too deep, a number of too many digits
            raise ApiError(400, f"the request is not JSON this explorer reads: {err}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request must be a JSON object")
        self._json(200, getattr(self.explorer, POSTS[path])(body))


class ExploreServer(ThreadingHTTPServer):
    """One thread per connection (daemon threads: stopping the server never waits for a client)."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, explorer: Explorer, host: str, port: int):
        self.explorer = explorer
        self.loopback = host in LOOPBACK_HOSTS
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.address_family = family
        super().__init__((host, port), Handler)

    def handle_error(self, request, client_address) -> None:
        """A client that went away (reset, broken pipe, timeout) is logged in one debug line; any
        other error as the standard library logs it, with its traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("explore: client %s went away: %s", client_address, error)
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def start_background(self) -> threading.Thread:
        """Serve in a daemon thread (tests, benchmarks); ``shutdown()`` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="csvae-explore", daemon=True)
        thread.start()
        return thread
