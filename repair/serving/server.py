"""Runs the `tritonserver` binary shipped in the nvidia-pytriton wheel against a model repository.

The wheel carries Triton (Python backend only) under `pytriton/tritonserver/`, its shared libraries
in `nvidia_pytriton.libs/` and one Python-backend stub per Python version. What makes it work here:

- a backend directory holding `backends/python` plus the stub built for this interpreter's Python
  version (`backend_directory()` builds it once under the cache folder);
- `LD_LIBRARY_PATH` = this interpreter's `libpython` folder (so the stub embeds the same Python as
  the project's venv, not the system one) + the wheel's library folder;
- `PATH` starting with the venv's `bin`: the stub's embedded interpreter finds `python3` there and
  with it the venv's `pyvenv.cfg`, so `sys.prefix` is the venv and its site-packages are importable;
- `PYTHONPATH` = the project root, so `triton_models/code_repair/<N>/model.py` imports `repair`.

Hardening (docs/security.md):

- the environment is scrubbed: the server and its stubs get only the variables above plus `HOME`,
  `LANG`, `TMPDIR` and the accelerator's (`CUDA_VISIBLE_DEVICES`, `NVIDIA_*`), never the caller's
  secrets;
- the model-repository (load, unload, index), shared-memory, trace and logging APIs are restricted
  over gRPC and HTTP to callers sending the header `repair-admin-key` with the key from
  `REPAIR_TRITON_ADMIN_KEY` (when unset, a random key is made once per process and exported to this
  process's environment, so `ModelControl` here finds it); inference, health and metadata stay open.

The server listens on loopback ports chosen free, in explicit model-control mode (nothing loads until
asked), logs to a file, and is stopped with SIGTERM (then SIGKILL of its whole process group).
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from repair.serving.client import KEEPALIVE_TIME_MS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE_DIR = PROJECT_ROOT / ".data" / "triton"
ADMIN_KEY_ENV = "REPAIR_TRITON_ADMIN_KEY"
ADMIN_HEADER = "repair-admin-key"
# The APIs that change what the server runs or reads; the rest (inference, health, metadata) is open.
RESTRICTED_APIS = "model-repository,shared-memory,trace,logging"
# What the server and its Python-backend stubs may inherit from the caller's environment.
INHERITED_ENV = (
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "TZ",
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "HF_HOME",
    "REPAIR_TRITON_THREADS",
)


class TritonServerError(RuntimeError):
    """The server could not start or died; the message carries the tail of its log."""


def _pytriton_dir() -> Path:
    import pytriton

    return Path(pytriton.__file__).resolve().parent / "tritonserver"


def tritonserver_binary() -> Path:
    return _pytriton_dir() / "bin" / "tritonserver"


def _libs_dir() -> Path:
    return _pytriton_dir().parents[1] / "nvidia_pytriton.libs"


def backend_directory(cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """`<cache>/backends/python` with the wheel's Python backend and the stub for this Python."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = _pytriton_dir() / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.is_file():
        raise TritonServerError(f"nvidia-pytriton ships no Python-backend stub for Python {version} ({stub})")
    backends = Path(cache_dir) / "backends"
    target = backends / "python"
    wanted = [*sorted((_pytriton_dir() / "backends" / "python").iterdir()), stub]
    if not all(
        (target / f.name).is_file() and (target / f.name).stat().st_size == f.stat().st_size for f in wanted
    ):
        target.mkdir(parents=True, exist_ok=True)
        for source in wanted:
            tmp = target / f".{source.name}.tmp-{os.getpid()}"
            shutil.copy2(source, tmp)
            tmp.replace(target / source.name)  # other processes may be starting servers too
    return backends


def default_admin_key() -> str:
    """The key model control needs (`REPAIR_TRITON_ADMIN_KEY`; made and exported once when unset)."""
    key = os.environ.get(ADMIN_KEY_ENV, "")
    if not key:
        key = os.environ[ADMIN_KEY_ENV] = secrets.token_urlsafe(32)
    return key


def admin_headers(key: str | None = None, protocol: str = "grpc") -> dict[str, str]:
    """The header a model-control call sends: Triton expects `triton-grpc-protocol-<header>` in gRPC
    metadata and `<header>` over HTTP."""
    prefix = "triton-grpc-protocol-" if protocol == "grpc" else ""
    return {prefix + ADMIN_HEADER: key or default_admin_key()}


def restricted_api_flags(key: str) -> list[str]:
    """The `tritonserver` flags that put the admin APIs behind the key (also for production)."""
    if not key or any(c in key for c in ",:= \t\n"):
        raise TritonServerError(f"{ADMIN_KEY_ENV} must be a non-empty token without ',', ':', '=' or spaces")
    rule = f"{RESTRICTED_APIS}:{ADMIN_HEADER}={key}"
    return [f"--grpc-restricted-protocol={rule}", f"--http-restricted-api={rule}"]


def server_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The scrubbed environment the server (and the Python-backend stubs it spawns) gets; see the
    module doc. Only `INHERITED_ENV` passes from `base` (default: this process's environment)."""
    base = dict(os.environ if base is None else base)
    env = {name: base[name] for name in INHERITED_ENV if name in base}
    libpython_dir = sysconfig.get_config_var("LIBDIR") or ""
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (libpython_dir, str(_libs_dir())) if p)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    env["TOKENIZERS_PARALLELISM"] = "false"
    env["HF_HUB_OFFLINE"] = "1"  # nothing downloads weights at run time
    env.setdefault("LANG", "C.UTF-8")
    return env


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports free right now (bound together so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass(frozen=True)
class Endpoints:
    host: str
    http_port: int
    grpc_port: int
    metrics_port: int

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/metrics"


class EmbeddedTritonServer:
    """One `tritonserver` process; a context manager. `start()` returns once the server is ready
    (models in `load_models` loaded) or raises `TritonServerError` with the log's tail."""

    def __init__(
        self,
        repository: str | os.PathLike,
        *,
        load_models: tuple[str, ...] = (),
        log_path: str | os.PathLike | None = None,
        cache_dir: str | os.PathLike = DEFAULT_CACHE_DIR,
        startup_timeout_s: float = 180.0,
        exit_timeout_s: int = 10,
        verbose: bool = False,
        ports: tuple[int, int, int] | None = None,
        admin_key: str | None = None,
    ):
        self.repository = Path(repository).resolve()
        self.admin_key = admin_key or default_admin_key()
        self.load_models = tuple(load_models)
        self.cache_dir = Path(cache_dir)
        self.log_path = (
            Path(log_path)
            if log_path
            else self.cache_dir / "logs" / f"tritonserver-{os.getpid()}-{id(self):x}.log"
        )
        self.startup_timeout_s = startup_timeout_s
        self.exit_timeout_s = exit_timeout_s
        self.verbose = verbose
        self.ports = ports  # (http, grpc, metrics); None: free ones
        self.endpoints: Endpoints | None = None
        self._process: subprocess.Popen | None = None
        self._log_file = None

    # -- lifecycle -------------------------------------------------------------------------------
    def command(self, endpoints: Endpoints) -> list[str]:
        cmd = [
            str(tritonserver_binary()),
            f"--model-repository={self.repository}",
            f"--backend-directory={backend_directory(self.cache_dir)}",
            "--model-control-mode=explicit",
            f"--http-address={endpoints.host}",
            f"--http-port={endpoints.http_port}",
            f"--grpc-address={endpoints.host}",
            f"--grpc-port={endpoints.grpc_port}",
            f"--metrics-port={endpoints.metrics_port}",
            "--allow-metrics=true",
            f"--exit-timeout-secs={self.exit_timeout_s}",
            "--strict-readiness=true",
            # The repair client's keepalive pings during a long request are welcome, not strikes.
            f"--grpc-http2-min-recv-ping-interval-without-data={KEEPALIVE_TIME_MS // 2}",
            *restricted_api_flags(self.admin_key),
        ]
        cmd += [f"--load-model={name}" for name in self.load_models]
        if self.verbose:
            cmd.append("--log-verbose=1")
        return cmd

    def start(self) -> Self:
        if self._process is not None:
            return self
        if not self.repository.is_dir():
            raise TritonServerError(f"model repository {self.repository} does not exist")
        for attempt in range(3):  # a port picked free may be taken before the server binds it
            endpoints = Endpoints("127.0.0.1", *(self.ports or free_ports(3)))
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
            self._process = subprocess.Popen(
                self.command(endpoints),
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                env=server_environment(),
                start_new_session=True,  # its own process group: stopping it also ends the stubs
            )
            self.endpoints = endpoints
            atexit.register(self.stop)
            try:
                self._wait_ready()
                return self
            except TritonServerError as exc:
                address_taken = "address already in use" in str(exc).lower()
                self.stop()
                if not address_taken or self.ports or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        assert self.endpoints is not None
        while time.monotonic() < deadline:
            code = self._process.poll() if self._process else None
            if code is not None:
                raise TritonServerError(
                    f"tritonserver exited with code {code} while starting; log {self.log_path}:\n{self.log_tail()}"
                )
            if self._http_ok("/v2/health/ready"):
                return
            time.sleep(0.2)
        raise TritonServerError(
            f"tritonserver not ready after {self.startup_timeout_s:.0f} s; log {self.log_path}:\n{self.log_tail()}"
        )

    def _http_ok(self, path: str) -> bool:
        assert self.endpoints is not None
        try:
            with urllib.request.urlopen(self.endpoints.http_url + path, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def check_alive(self) -> None:
        """Raises `TritonServerError` (with the log's tail) when the process has died."""
        if self._process is None:
            raise TritonServerError("tritonserver is not started")
        code = self._process.poll()
        if code is not None:
            raise TritonServerError(
                f"tritonserver died with code {code}; log {self.log_path}:\n{self.log_tail()}"
            )

    def is_live(self) -> bool:
        return self._process is not None and self._process.poll() is None and self._http_ok("/v2/health/live")

    def is_ready(self) -> bool:
        return (
            self._process is not None and self._process.poll() is None and self._http_ok("/v2/health/ready")
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=self.exit_timeout_s + 10)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(process.pid, signal.SIGKILL)  # stubs left behind by a hard exit
            except ProcessLookupError:
                pass
            process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        atexit.unregister(self.stop)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    @property
    def grpc_url(self) -> str:
        if self.endpoints is None:
            raise TritonServerError("tritonserver is not started")
        return self.endpoints.grpc_url

    @property
    def metrics_url(self) -> str:
        if self.endpoints is None:
            raise TritonServerError("tritonserver is not started")
        return self.endpoints.metrics_url

    @property
    def replicas(self) -> tuple[str, ...]:
        """One server is a fleet of one (what a rollout addresses)."""
        return (self.grpc_url,)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
