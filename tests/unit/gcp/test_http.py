"""The hot-path HTTP client against a real HTTP server on loopback."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shared.gcp.http import HttpClient, HttpFailed


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: set[int] = set()
    close_after_reply = False

    def do_GET(self) -> None:
        self._reply({"path": self.path})

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        document = json.loads(self.rfile.read(length))
        self._reply({"echo": document, "type": self.headers["Content-Type"]})

    def _reply(self, document: Any) -> None:
        Recorder.connections.add(id(self.connection))
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if Recorder.close_after_reply:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.connections = set()
    Recorder.close_after_reply = False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_get_and_post_json_reuse_one_keep_alive_connection(server: str) -> None:
    client = HttpClient(timeout_seconds=5)

    first = client.get(f"{server}/v1/documents/channels/a?x=1", headers={})
    second = client.post_json(f"{server}/publish", {"messages": [1, 2]}, headers={})

    assert first.status == 200
    assert first.json() == {"path": "/v1/documents/channels/a?x=1"}
    assert second.json() == {"echo": {"messages": [1, 2]}, "type": "application/json"}
    assert len(Recorder.connections) == 1


def test_a_connection_the_server_closed_is_replaced_transparently(server: str) -> None:
    client = HttpClient(timeout_seconds=5)
    Recorder.close_after_reply = True  # the server closes without saying so in the headers

    answers = [client.get(f"{server}/{index}", headers={}).json() for index in range(3)]

    assert answers == [{"path": "/0"}, {"path": "/1"}, {"path": "/2"}]


def test_unreachable_server_is_http_failed() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = HttpClient(timeout_seconds=2)

    with pytest.raises(HttpFailed, match="Connection"):
        client.get(f"http://127.0.0.1:{port}/", headers={})


def test_non_http_url_is_refused() -> None:
    with pytest.raises(HttpFailed, match="not an http"):
        HttpClient(timeout_seconds=1).get("file:///etc/passwd", headers={})
