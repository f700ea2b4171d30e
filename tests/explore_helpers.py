"""Helpers of the explorer tests: run folders, a server on loopback, plain HTTP requests."""

import contextlib
import http.client
import json

from csvae.explore import ExploreServer, open_explorer


@contextlib.contextmanager
def serving(runs, **options):
    """An explorer of ``runs`` served on 127.0.0.1 in a background thread."""
    server = ExploreServer(open_explorer(runs, **options), "127.0.0.1", 0)
    server.start_background()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def request(server, method, path, body=None, headers=None):
    """(status, parsed JSON or raw bytes) of one request."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if response.getheader("Content-Type", "").startswith("application/json"):
        return response.status, json.loads(data)
    return response.status, data
