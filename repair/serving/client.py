"""The gRPC client IDE back ends use to ask the served model for a fix (docs/formats.md section 4).

```python
with RepairClient("127.0.0.1:8001") as client:
    result = client.repair(code, diagnostic)         # a repair.diagnostic.Diagnostic (or its JSON dict)
    if result.fixed:
        print(result.diff); write(result.fixed_code)
```

Every call has a deadline (`timeout_s`); a request that misses it raises `ServerUnavailable`.
Transient failures (server unreachable or restarting, overloaded) are retried with exponential
backoff; when the server stays unreachable, `ServerUnavailable` is raised after the retries (under
a second by default), never a hang. A request the server refuses (bad input) raises `RepairRequestError` at once, with the server's
reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from repair.diagnostic import Diagnostic
from repair.serving.handler import REJECTED_PREFIX, STATUS_FIXED, STATUS_NO_FIX, diagnostic_json

DEFAULT_URL = "127.0.0.1:8001"
DEFAULT_MODEL = "code_repair"
# gRPC status codes worth retrying: the server is starting, restarting or overloaded. A deadline
# exceeded is not retried: the caller's whole budget is already spent.
TRANSIENT_STATUS = ("StatusCode.UNAVAILABLE", "StatusCode.RESOURCE_EXHAUSTED")
DEADLINE_STATUS = "StatusCode.DEADLINE_EXCEEDED"
# A repair request is idempotent (the answer depends on its inputs alone), so resending it after a
# transient failure (a connection closed mid-request included) cannot do anything twice.
DEFAULT_RETRIES = 3
# While a request is in flight the client pings its connection every KEEPALIVE_TIME_MS. gRPC's
# client sometimes misses a peer's TCP reset (5 of 150 cuts under load here) and a connection whose
# peer vanished sends nothing at all: without the ping either request waited out its whole deadline
# instead of failing UNAVAILABLE and being retried. Our Triton accepts pings this often
# (server.py); a stock one counts them as strikes, and gRPC sends at most two pings without data.
KEEPALIVE_TIME_MS = 2000
KEEPALIVE_TIMEOUT_MS = 5000


def keepalive_channel_args() -> list[tuple[str, int]]:
    """The gRPC channel arguments of our Triton clients (repair requests and model control):
    tritonclient's own (giving any replaces them all), plus the keepalive and its ping's deadline
    (gRPC waits a minute for a ping's answer unless told, whatever the keepalive timeout says)."""
    import tritonclient.grpc as grpcclient

    return [
        ("grpc.max_send_message_length", grpcclient.MAX_GRPC_MESSAGE_SIZE),
        ("grpc.max_receive_message_length", grpcclient.MAX_GRPC_MESSAGE_SIZE),
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.http2.ping_timeout_ms", KEEPALIVE_TIMEOUT_MS),
    ]


class RepairClientError(RuntimeError):
    """Base of the client's errors."""


class ServerUnavailable(RepairClientError):
    """The server could not be reached (or kept failing transiently) within the retries."""


class RepairRequestError(RepairClientError):
    """The server answered this request with an error (bad input, model not loaded, ...)."""


@dataclass(frozen=True)
class RepairResult:
    """The section 4 outputs: the proposed diff, the fixed file (empty unless `fixed`), the status."""

    diff: str
    fixed_code: str
    status: str
    model_version: str = ""

    @property
    def fixed(self) -> bool:
        return self.status == STATUS_FIXED

    @property
    def no_fix(self) -> bool:
        return self.status == STATUS_NO_FIX

    @property
    def rejected(self) -> bool:
        return self.status.startswith(REJECTED_PREFIX)

    @property
    def reason(self) -> str:
        """Why a diff was rejected (empty otherwise)."""
        return self.status[len(REJECTED_PREFIX) :] if self.rejected else ""


def _diagnostic_text(diagnostic: Diagnostic | Mapping[str, Any] | str) -> str:
    if isinstance(diagnostic, Diagnostic):
        return diagnostic_json(diagnostic)
    if isinstance(diagnostic, str):
        return diagnostic
    return json.dumps(dict(diagnostic))


def _bytes_input(grpcclient, name: str, value: str):
    tensor = grpcclient.InferInput(name, [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[value.encode("utf-8")]], dtype=np.object_))
    return tensor


def _status_of(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    return str(status() if callable(status) else status or "")


class RepairClient:
    """A small typed client over `tritonclient.grpc` (see the module doc)."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        model: str = DEFAULT_MODEL,
        model_version: str = "",
        timeout_s: float = 30.0,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = 0.1,
        backoff_max_s: float = 2.0,
    ):
        import tritonclient.grpc as grpcclient

        self._grpc = grpcclient
        self.url = url
        self.model = model
        self.model_version = model_version
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._client = grpcclient.InferenceServerClient(url, channel_args=keepalive_channel_args())
        # The transient failures the last call retried past (empty: its first attempt answered).
        self.retried_errors: list[str] = []

    def _call(self, what: str, fn):
        delay = self.backoff_s
        last: Exception | None = None
        self.retried_errors = []
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except self._grpc.InferenceServerException as exc:
                status = _status_of(exc)
                if status == DEADLINE_STATUS:
                    raise ServerUnavailable(
                        f"{what}: Triton at {self.url} gave no answer within {self.timeout_s:g} s"
                    ) from None
                if status not in TRANSIENT_STATUS:
                    raise RepairRequestError(f"{what} at {self.url}: {exc.message()}") from None
                last = exc
                if attempt < self.retries:
                    self.retried_errors.append(f"{status}: {exc.message()}")
                    time.sleep(delay)
                    delay = min(delay * 2, self.backoff_max_s)
        message = last.message() if isinstance(last, self._grpc.InferenceServerException) else str(last)
        raise ServerUnavailable(
            f"{what}: Triton at {self.url} unavailable after {self.retries + 1} attempts: {message}"
        ) from None

    def repair(
        self, code: str, diagnostic: Diagnostic | Mapping[str, Any] | str, file_name: str | None = None
    ) -> RepairResult:
        """Asks the served model for a fix of `diagnostic` (1-based `line` in its JSON) in `code`."""
        inputs = [
            _bytes_input(self._grpc, "code", code),
            _bytes_input(self._grpc, "diagnostic", _diagnostic_text(diagnostic)),
        ]
        if file_name is not None:
            inputs.append(_bytes_input(self._grpc, "file_name", file_name))
        outputs = [self._grpc.InferRequestedOutput(name) for name in ("diff", "fixed_code", "status")]
        response = self._call(
            f"repair request to model {self.model!r}",
            lambda: self._client.infer(
                self.model,
                inputs,
                model_version=self.model_version,
                outputs=outputs,
                client_timeout=self.timeout_s,
            ),
        )
        if response is None:  # the gRPC client returns None only for async calls
            raise RepairRequestError(f"repair request to model {self.model!r} at {self.url}: no response")
        values = {
            name: response.as_numpy(name).reshape(-1)[0].decode("utf-8")
            for name in ("diff", "fixed_code", "status")
        }
        return RepairResult(**values, model_version=response.get_response().model_version)

    def is_ready(self) -> bool:
        """Whether the server and the model are ready (False rather than an error when unreachable)."""
        try:
            return bool(
                self._client.is_server_ready(client_timeout=min(self.timeout_s, 5.0))
                and self._client.is_model_ready(
                    self.model, self.model_version, client_timeout=min(self.timeout_s, 5.0)
                )
            )
        except self._grpc.InferenceServerException:
            return False

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class TritonRepairer:
    """The `Repairer` protocol over a served model, for evaluation against a deployment: returns the
    diff the server proposed (other project files are not part of the serving interface)."""

    def __init__(self, client: RepairClient):
        self.client = client
        self.name = f"triton:{client.model}"

    def propose(
        self,
        code: str,
        diagnostic: Diagnostic,
        file_name: str = "main.py",
        context_files: Mapping[str, str] | None = None,
    ) -> str:
        return self.client.repair(code, diagnostic, file_name).diff
