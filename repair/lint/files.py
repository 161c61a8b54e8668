"""What may be linted, and writing a project's files to disk so that its imports resolve.

A file is refused, with the reason, when its path leaves the project, it is not Python, it is
binary (holds a NUL), it is not UTF-8 (bytes that do not decode, or text with lone surrogates
that cannot be encoded), or it is larger than the configured limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath

PYTHON_SUFFIXES = (".py", ".pyi")
DEFAULT_MAX_FILE_BYTES = 1_000_000


class BadInput(ValueError):
    """A file that cannot be linted; the message is the reason recorded for it."""


def is_python_path(path: str) -> bool:
    return path.endswith(PYTHON_SUFFIXES)


def check_path(path: str) -> str:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path or "\x00" in path:
        raise BadInput(f"unsafe path {path!r}: must be relative and stay inside the project")
    return path


def encode_text(path: str, value: str | bytes, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bytes:
    """The file's UTF-8 bytes, or `BadInput` naming the file and the reason."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BadInput(f"binary: {path} holds a NUL character")
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadInput(f"not UTF-8: {path} holds {exc.reason} at character {exc.start}") from None
    else:
        data = bytes(value)
        if b"\x00" in data:
            raise BadInput(f"binary: {path} holds a NUL byte")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"not UTF-8: {path} has an invalid byte at offset {exc.start}") from None
    if len(data) > max_bytes:
        raise BadInput(f"too large: {path} is {len(data)} bytes, above the {max_bytes}-byte limit")
    return data


def check_target(files: Mapping[str, str | bytes], target: str, max_bytes: int) -> bytes:
    """The target's bytes; `BadInput` when it cannot be linted."""
    check_path(target)
    if target not in files:
        raise BadInput(f"missing: {target} is not among the project's files")
    if not is_python_path(target):
        raise BadInput(f"not Python: {target}")
    return encode_text(target, files[target], max_bytes)


def write_project(
    folder: Path, files: Mapping[str, str | bytes], target: str, target_bytes: bytes, max_bytes: int
) -> dict[str, bytes]:
    """Writes the target and the project's other Python files under `folder`; other files that
    cannot be linted are left out (an import of them then fails as it would for a missing
    module). Returns what was written, by relative path."""
    written = {target: target_bytes}
    for path, value in files.items():
        if path == target or not is_python_path(path):
            continue
        try:
            written[check_path(path)] = encode_text(path, value, max_bytes)
        except BadInput:
            continue
    for path, data in written.items():
        dest = folder / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    return written
