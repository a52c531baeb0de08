"""Local stand-ins for the Facebook Graph API and the X API, plus signed webhooks.

These are real HTTP servers on ``127.0.0.1`` and a free port, speaking the request
and response shapes the platforms document (including their error bodies), and
recording every request so a test or the demo can assert what was sent. They let the
whole reply path run end to end without the internet.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from somebound.channels.facebook.verify import SIGNATURE_HEADER as FB_HEADER
from somebound.channels.facebook.verify import sign as fb_sign
from somebound.channels.x.verify import SIGNATURE_HEADER as X_HEADER
from somebound.channels.x.verify import sign as x_sign


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"))


@dataclass
class _Failure:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


class FakeServer:
    """A threaded HTTP server on a free port; subclasses implement :meth:`route`."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._failures: deque[_Failure] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with fake._lock:
                    fake.requests.append(request)
                    failure = fake._failures.popleft() if fake._failures else None
                if failure is not None:
                    status, answer = failure.status, failure.body
                else:
                    try:
                        status, answer = fake.route(request)
                    except Exception as exc:  # a fake must answer, not hang the client
                        status, answer = 500, {"error": {"message": repr(exc)}}
                data = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def next_id(self) -> int:
        return next(self._ids)

    def fail_next(self, status: int, body: dict[str, Any]) -> None:
        """Answer the next request with ``status`` and ``body`` (outage/rate-limit tests)."""
        with self._lock:
            self._failures.append(_Failure(status, body))

    def route(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def start(self) -> FakeServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):  # noqa: ANN204 - returns the subclass
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _graph_error(message: str, code: int, kind: str = "OAuthException") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "AfakeTrace"}}


class FakeGraphServer(FakeServer):
    """The slice of the Graph API that :class:`GraphSender` uses.

    ``POST /{version}/{object-id}/comments`` → ``{"id": "<object>_<n>"}``;
    ``POST /{version}/me/messages`` (or ``/{page-id}/messages``) →
    ``{"recipient_id", "message_id"}``. A wrong or missing token gets Graph's
    ``OAuthException`` code 190. :attr:`comments` and :attr:`messages` hold what was posted.
    """

    def __init__(
        self, page_token: str = "test-page-token", page_id: str = "1000", version: str = "v21.0"
    ) -> None:
        super().__init__()
        self.page_token = page_token
        self.page_id = page_id
        self.version = version
        self.comments: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/{self.version}"

    def _token(self, request: RecordedRequest, payload: dict[str, Any]) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        if "access_token" in request.query:
            return request.query["access_token"][0]
        return payload.get("access_token")

    def route(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        parts = [p for p in request.path.split("/") if p]
        if not parts or parts[0] != self.version:
            return 400, _graph_error(f"Unknown API version in {request.path}", 2635)
        if request.headers.get("content-type", "").startswith("application/json"):
            payload = request.json or {}
        else:
            payload = {k: v[0] for k, v in request.form.items()} if request.body else {}
        if self._token(request, payload) != self.page_token:
            return 400, _graph_error("Invalid OAuth access token - Cannot parse access token", 190)
        if request.method == "POST" and len(parts) == 3 and parts[2] == "comments":
            message = payload.get("message")
            if not message:
                return 400, _graph_error("(#100) The parameter message is required", 100)
            parent = parts[1]
            comment_id = f"{parent.split('_')[-1]}_{900000 + self.next_id()}"
            self.comments.append({"id": comment_id, "parent": parent, "message": message})
            return 200, {"id": comment_id}
        if (
            request.method == "POST"
            and len(parts) == 3
            and parts[2] == "messages"
            and (parts[1] in ("me", self.page_id))
        ):
            recipient = payload.get("recipient") or {}
            text = (payload.get("message") or {}).get("text")
            if not (recipient.get("id") or recipient.get("comment_id")):
                return 400, _graph_error("(#100) The parameter recipient is required", 100)
            if not text:
                return 400, _graph_error("(#100) Message text is required", 100)
            if len(text) > 2000:
                return 400, _graph_error(
                    "(#100) Length of param message[text] must be less than or equal to 2000", 100
                )
            message_id = f"m_fake{self.next_id()}"
            psid = recipient.get("id") or f"psid-of-{recipient['comment_id']}"
            self.messages.append(
                {
                    "recipient": recipient,
                    "text": text,
                    "message_id": message_id,
                    "messaging_type": payload.get("messaging_type"),
                }
            )
            return 200, {"recipient_id": psid, "message_id": message_id}
        return 400, _graph_error(
            f"Unsupported {request.method} request to {request.path}", 100, "GraphMethodException"
        )


class FakeXServer(FakeServer):
    """The slice of the X API v2 that :class:`XSender` uses.

    ``POST /2/tweets`` → 201 ``{"data": {"id", "text", "edit_history_tweet_ids"}}``;
    ``POST /2/dm_conversations/with/{id}/messages`` → 201
    ``{"data": {"dm_conversation_id", "dm_event_id"}}``. A wrong bearer gets 401 in
    X's problem format. :attr:`tweets` and :attr:`dms` hold what was posted.
    """

    def __init__(self, bearer_token: str = "test-user-token", user_id: str = "2000") -> None:
        super().__init__()
        self.bearer_token = bearer_token
        self.user_id = user_id
        self.tweets: list[dict[str, Any]] = []
        self.dms: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        return self.root_url

    def route(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        if request.headers.get("authorization") != f"Bearer {self.bearer_token}":
            return 401, {
                "title": "Unauthorized",
                "type": "about:blank",
                "status": 401,
                "detail": "Unauthorized",
            }
        parts = [p for p in request.path.split("/") if p]
        invalid = {
            "title": "Invalid Request",
            "type": "https://api.twitter.com/2/problems/invalid-request",
            "detail": "One or more parameters to your request was invalid.",
        }
        try:
            payload = request.json or {}
        except ValueError:
            return 400, invalid | {"errors": [{"message": "body is not JSON"}]}
        text = payload.get("text")
        if request.method == "POST" and parts == ["2", "tweets"]:
            if not text:
                return 400, invalid | {"errors": [{"message": "$.text is required"}]}
            if len(text) > 280:
                return 403, {
                    "title": "Forbidden",
                    "type": "about:blank",
                    "status": 403,
                    "detail": "Your Tweet text is too long.",
                }
            tweet_id = str(1_800_000_000_000_000_000 + self.next_id())
            reply_to = (payload.get("reply") or {}).get("in_reply_to_tweet_id")
            self.tweets.append({"id": tweet_id, "text": text, "in_reply_to_tweet_id": reply_to})
            return 201, {
                "data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}
            }
        if (
            request.method == "POST"
            and len(parts) == 5
            and parts[:3] == ["2", "dm_conversations", "with"]
            and parts[4] == "messages"
        ):
            participant = parts[3]
            if not text:
                return 400, invalid | {"errors": [{"message": "text or attachments required"}]}
            low, high = sorted((participant, self.user_id), key=lambda v: (len(v), v))
            event_id = str(1_900_000_000_000_000_000 + self.next_id())
            self.dms.append({"participant_id": participant, "text": text, "dm_event_id": event_id})
            return 201, {"data": {"dm_conversation_id": f"{low}-{high}", "dm_event_id": event_id}}
        return 404, {
            "title": "Not Found Error",
            "type": "https://api.twitter.com/2/problems/resource-not-found",
            "status": 404,
            "detail": f"no route {request.method} {request.path}",
        }


def webhook_body(payload: dict[str, Any] | bytes) -> bytes:
    """The raw JSON body a platform POSTs for ``payload`` (bytes pass through as they are)."""
    if isinstance(payload, bytes):
        return payload
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signed_facebook_request(
    payload: dict[str, Any] | bytes, app_secret: str
) -> tuple[bytes, dict[str, str]]:
    """Body and headers exactly as Facebook would POST ``payload`` to our webhook."""
    body = webhook_body(payload)
    return body, {"Content-Type": "application/json", FB_HEADER: fb_sign(body, app_secret)}


def signed_x_request(
    payload: dict[str, Any] | bytes, consumer_secret: str
) -> tuple[bytes, dict[str, str]]:
    """Body and headers exactly as X's Account Activity API would POST ``payload``."""
    body = webhook_body(payload)
    return body, {"Content-Type": "application/json", X_HEADER: x_sign(body, consumer_secret)}
