"""Every teacher LM call is bounded (issue 18): a server that accepts the connection and never
answers costs the configured timeout per attempt, not LiteLLM's 600 s x 4."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from resources.teacher_lm import TeacherLMResource


def test_lm_call_to_a_silent_server_is_bounded():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_ignore() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])  # never answers
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept_and_ignore, daemon=True)
    thread.start()
    resource = TeacherLMResource(
        model="openai/silent",
        api_base=f"http://127.0.0.1:{listener.getsockname()[1]}/v1",
        api_key="k",
        timeout_s=1.0,
        num_retries=1,
        cache=False,
    )
    lm = resource.build_lm()
    assert lm.kwargs["timeout"] == 1.0 and lm.num_retries == 1
    started = time.monotonic()
    try:
        with pytest.raises(Exception, match="(?i)time"):
            lm("fix this")
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()
    assert time.monotonic() - started < 30
    assert held, "the LM never reached the server"


def test_default_timeout_is_set():
    assert TeacherLMResource(model="openai/x").build_lm().kwargs["timeout"] == 60.0
