"""The explorer's limits under a hostile client and careless options: pixels decoded from an
upload, JSON that is too deep or too long a number, clients that vanish, impossible options."""

import io
import logging
import socket
import struct
import time

import pytest
from PIL import Image
from test_explore import image_run

from csvae.cli import main

from explore_helpers import request, serving


def huge_png(side: int) -> bytes:
    """A 1-bit PNG of side x side pixels: a few KB that decode to side^2 RGB pixels."""
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_upload_of_too_many_pixels_is_refused_before_decoding(tmp_path):
    """Uploads were bounded in bytes only: four 20 KB PNGs of 13000 x 13000 took 3.77 GB."""
    data = huge_png(5000)
    assert len(data) < 20_000
    with serving([image_run(tmp_path)]) as server:
        started = time.perf_counter()
        status, out = request(server, "POST", "/api/upload", data, {"X-Filename": "bomb.png"})
        assert time.perf_counter() - started < 2.0
    assert status == 400
    assert out["error"] == "bomb.png is not an image this run can read: it has 5000 x 5000 pixels, more than the " \
                           "16777216 an image may have"


@pytest.mark.parametrize("body, message", [
    (b'{"run": ' + b"9" * 5000 + b"}", "Exceeds the limit (4300 digits)"),
    (b"[" * 100_000 + b"]" * 100_000, "it nests 100000 levels deep, more than 64"),
])
def test_json_too_deep_or_too_long_a_number_gets_a_400(tmp_path, body, message):
    """A 5000-digit integer or deeply nested JSON was answered with a 500."""
    with serving([image_run(tmp_path)]) as server:
        status, out = request(server, "POST", "/api/edit", body, {"Content-Type": "application/json"})
    assert status == 400 and out["error"].startswith("the request is not JSON this explorer reads: ")
    assert message in out["error"]


def test_a_client_that_vanishes_prints_no_traceback(tmp_path, capfd, caplog):
    """Every client disconnect printed a 20-40 line traceback on the server's terminal."""
    with serving([image_run(tmp_path)]) as server, caplog.at_level(logging.WARNING):
        host, port = server.server_address[:2]
        for _ in range(3):
            rude = socket.create_connection((host, port))
            rude.sendall(b"GET /api/sta")
            rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
            rude.close()
        time.sleep(0.3)
        assert request(server, "GET", "/api/state")[0] == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err and not caplog.records


@pytest.mark.parametrize("option, value, message", [
    ("--port", "99999", "--port must be 0 (a free port) or a port number up to 65535, got 99999"),
    ("--max-upload-mb", "inf", "--max-upload-mb must be a number of MB in (0, 1024], got inf"),
    ("--max-upload-mb", "nan", "--max-upload-mb must be a number of MB in (0, 1024], got nan"),
])
def test_impossible_options_are_one_line(tmp_path, capsys, option, value, message):
    """--port 99999 and --max-upload-mb inf gave tracebacks."""
    assert main(["explore", str(image_run(tmp_path)), option, value]) == 1
    assert capsys.readouterr().err == f"csvae explore: error: {message}\n"
