"""Lambda's Invoke API on 127.0.0.1, running the deployed function's handler locally.

moto stores functions but runs none without Docker, so local-deploy serves Invoke
itself for the functions the runtime invokes directly (worker-service's waker, which
the producer nudges): boto3 sends Lambda calls to ``AWS_ENDPOINT_URL_LAMBDA``
("Service-specific endpoints", AWS SDKs and Tools Reference Guide), and local-deploy
exports that variable pointing here.

The wire format is Lambda's ("Invoke", AWS Lambda API Reference): ``POST
/2015-03-31/functions/{FunctionName}/invocations``; ``X-Amz-Invocation-Type: Event``
answers 202 at once and runs the handler after, ``RequestResponse`` (the default)
answers 200 with the handler's JSON result; an unknown function answers 404 with
``x-amzn-ErrorType: ResourceNotFoundException``. The function may be named by name or
ARN, as Lambda accepts.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

from local.http_server import BackgroundHttpServer

Handler = Callable[[Mapping[str, Any]], Any]
Say = Callable[[str], None]

_PREFIX = "/2015-03-31/functions/"
_SUFFIX = "/invocations"


class LocalLambdaEndpoint(BackgroundHttpServer):
    """Serves Invoke for ``handlers`` (function name or ARN -> handler of the event)."""

    def __init__(self, handlers: Mapping[str, Handler], say: Say) -> None:
        self.handlers = dict(handlers)
        self.say = say
        # One invocation at a time: a handler runs in os.environ patched with its
        # function's environment (local.entrypoints), which threads would share.
        self._one_at_a_time = threading.Lock()
        super().__init__(_request_class(self), "lambda-endpoint")

    def handler_for(self, path: str) -> tuple[str, Handler | None]:
        if not (path.startswith(_PREFIX) and path.endswith(_SUFFIX)):
            return "", None
        name = urllib.parse.unquote(path[len(_PREFIX) : -len(_SUFFIX)])
        return name, self.handlers.get(name)

    def run(self, name: str, handler: Handler, event: Mapping[str, Any]) -> Any:
        try:
            with self._one_at_a_time:
                return handler(event)
        except Exception as error:  # a handler's failure is reported, as Lambda logs it
            self.say(f"{name} failed: {type(error).__name__}: {error}")
            return {"errorType": type(error).__name__, "errorMessage": str(error)}


def _request_class(endpoint: LocalLambdaEndpoint) -> type[BaseHTTPRequestHandler]:
    class Invoke(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            name, handler = endpoint.handler_for(urllib.parse.urlsplit(self.path).path)
            if handler is None:
                self._answer(
                    404,
                    {"Type": "User", "message": f"Function not found: {name or self.path}"},
                    error="ResourceNotFoundException",
                )
                return
            try:
                event = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._answer(
                    400, {"message": "payload is not JSON"}, error="InvalidRequestContentException"
                )
                return
            if self.headers.get("X-Amz-Invocation-Type") == "Event":
                self._answer(202, None)
                threading.Thread(
                    target=endpoint.run, args=(name, handler, event), daemon=True
                ).start()
                return
            self._answer(200, endpoint.run(name, handler, event))

        def _answer(self, status: int, body: Any, *, error: str | None = None) -> None:
            data = b"" if body is None else json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error is not None:
                self.send_header("x-amzn-ErrorType", error)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Invoke
