"""A local OpenAI-compatible chat-completions server answering with any `Repairer` (test helper):
the DSPy teacher's real network path (LiteLLM or DSPy's native client, `api_base`, the key header)
runs against it offline, as it would against a vLLM server."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from repair.teachers.repairer_lm import rebuild, request_fields


@contextmanager
def serve_repairer(repairer, api_key: str):
    """Yields the base URL (`http://127.0.0.1:PORT/v1`); requests carry `Authorization: Bearer`."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.headers.get("Authorization") != f"Bearer {api_key}":
                self.send_response(401)
                self.end_headers()
                return
            seen.append(body)
            user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
            user = user if isinstance(user, str) else "".join(part.get("text", "") for part in user)
            rebuilt = rebuild(request_fields(user))
            diff = (repairer.propose(*rebuilt) if rebuilt else "") or "<diff>\n</diff>"
            content = f"[[ ## diff ## ]]\n{diff}\n\n[[ ## completed ## ]]"
            answer = {
                "id": f"chatcmpl-{len(seen)}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "repairer"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(user) // 4, "completion_tokens": len(content) // 4, "total_tokens": (len(user) + len(content)) // 4},
            }  # fmt: skip
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()
