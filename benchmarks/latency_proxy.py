"""A local HTTP proxy that adds a fixed latency to every request it forwards.

    proxy = LatencyProxy("http://127.0.0.1:5000", delay_seconds=0.015)
    proxy.start()  # proxy.url now stands in for the upstream
    ...
    proxy.stop()

or as a process of its own (so its CPU does not compete with the measured loop for
the GIL), printing its URL on the first line:

    python benchmarks/latency_proxy.py http://127.0.0.1:5000 --delay-ms 15

Put in front of a moto server, it gives each AWS call the round trip of a real
in-region call (10-20 ms for SQS), which moto alone does not have. Each request
waits ``delay_seconds`` before it is forwarded; connections to the upstream are kept
alive per proxy thread, as boto3 keeps its own to the proxy.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LatencyProxy"]

# Hop-by-hop headers a proxy must not forward (RFC 9110 section 7.6.1).
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's
    # algorithm and the client's delayed ACK would add ~40 ms to every response.
    disable_nagle_algorithm = True
    server: _ProxyServer

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        time.sleep(self.server.delay_seconds)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = self.server.connection()
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self.server.drop_connection()
            raise
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, delay_seconds: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parsed = urllib.parse.urlsplit(upstream)
        self._host, self._port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.delay_seconds = delay_seconds
        self._local = threading.local()

    def connection(self) -> http.client.HTTPConnection:
        if getattr(self._local, "connection", None) is None:
            fresh = http.client.HTTPConnection(self._host, self._port, timeout=60)
            fresh.connect()
            fresh.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.connection = fresh
        connection: http.client.HTTPConnection = self._local.connection
        return connection

    def drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None


class LatencyProxy:
    """The proxy, on a free port of 127.0.0.1, served from a daemon thread."""

    def __init__(self, upstream: str, *, delay_seconds: float = 0.015) -> None:
        self._server = _ProxyServer(upstream, delay_seconds)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> LatencyProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("upstream", help="the URL to forward to, e.g. a moto server's")
    parser.add_argument("--delay-ms", type=float, default=15.0, help="per request (default 15)")
    args = parser.parse_args()
    server = _ProxyServer(args.upstream, args.delay_ms / 1000)
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
