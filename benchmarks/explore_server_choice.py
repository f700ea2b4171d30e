"""Why ``csvae explore`` serves with the standard library: request overhead of http.server
(ThreadingHTTPServer, Nagle off) against Starlette on uvicorn, for the page's typical request (a
small JSON POST answered by ~2 kB of JSON, as an edit reply at 32 px), over one keep-alive
connection on 127.0.0.1. Starlette and uvicorn are not csvae dependencies: install them to compare
(pip install starlette uvicorn); without them only the standard library is timed.
Usage: python benchmarks/explore_server_choice.py [--requests 400]
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLY = json.dumps({"seq": 1, "edit": "x" * 2000}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(REPLY)))
        self.end_headers()
        self.wfile.write(REPLY)


def standard_library() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def starlette_uvicorn() -> int:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def edit(request):
        await request.body()
        return Response(REPLY, media_type="application/json")

    app = Starlette(routes=[Route("/api/edit", edit, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server.servers[0].sockets[0].getsockname()[1]


def timings(port: int, n: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.connect()
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as browsers do
    out = []
    for _ in range(n):
        start = time.perf_counter()
        connection.request("POST", "/api/edit", body=b'{"run": 0}', headers={"Content-Type": "application/json"})
        connection.getresponse().read()
        out.append((time.perf_counter() - start) * 1000)
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    n = parser.parse_args().requests
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {n} requests each")
    servers = [("standard library", standard_library, 0.0)]
    try:
        start = time.perf_counter()
        import starlette.applications  # noqa: F401
        import uvicorn  # noqa: F401
        servers.append(("starlette + uvicorn", starlette_uvicorn, (time.perf_counter() - start) * 1000))
    except ImportError:
        print("starlette + uvicorn: not installed, not timed")
    for name, start_server, import_ms in servers:
        port = start_server()
        timings(port, 50)  # warm up
        t = timings(port, n)
        print(f"{name}: median {statistics.median(t):.2f} ms, p95 {t[int(0.95 * len(t))]:.2f} ms per request; "
              f"import {import_ms:.0f} ms")


if __name__ == "__main__":
    main()
