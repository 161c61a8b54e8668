"""One project's sessions, keystroke by keystroke, as an editor would log them.

`ReplSimulator` writes a project's segments in order over its sessions. Keystrokes edit segments of
the file; every `flush_ms` the editor sends what changed since the last packet as one `ot` event
(`repair.ot.make_packet`); when the user pauses longer than the language server's debounce plus its
analysis time, the server publishes diagnostics for the version it analysed (a `PublishPoint`,
linted later in batches). Mistakes are typed in, live a while, and are fixed (or not); each leaves a
`MistakeRecord` with the file states the ground truth needs.
"""

from __future__ import annotations

import ast
import io
import random
import re
import tokenize
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

from repair import pyparse
from repair.ot import common_affixes, make_packet
from repair.simulate.behaviour import FIX_OUTCOMES, BehaviourModel, TimingModel
from repair.simulate.mistakes import IMPORT_BLOCK_KINDS, Mutation, ProjectFacts, commented_out, mutate
from repair.simulate.projects import Project

_COMMENTS = (
    "TODO: handle errors",
    "check this",
    "FIXME",
    "keep in sync with the caller",
    "edge case",
    "TODO: tests",
    "not thread-safe",
    "see above",
)
_SHELL_COMMANDS = (
    "ls",
    "git status",
    "python --version",
    "pip list",
    "clear",
    "cat main.py",
    "ls -la",
    "git diff",
)
_PACKAGES = ("requests", "numpy", "pandas", "flask", "rich", "pytest", "pyyaml", "httpx", "attrs", "tqdm")
_INSTALLERS = (("pip", "pip install"), ("poetry", "poetry add"), ("uv", "uv add"))


@dataclass
class PublishPoint:
    """A moment the language server published diagnostics for `file` at `version`."""

    session: str
    file: str
    version: int
    ts: int
    files: dict[str, str]  # the project as the server saw it


@dataclass
class MistakeRecord:
    """One mistake's life, for the ground truth (never logged)."""

    repl: str
    session: str
    file: str
    kind: str
    outcome: str
    segment: int
    line_in_segment: int
    needs_use_of: tuple[str, ...] = ()
    introduced_version: int | None = None
    introduced_ts: int | None = None
    broken_version: int | None = None  # the version the fix starts from (the last one, never fixed)
    fixed_session: str | None = None
    fixed_version: int | None = None
    fixed_ts: int | None = None
    before_fix: str | None = None  # the file just before the fix (or at the end, never fixed)
    clean_fix: str | None = None  # that file with only the mistake undone
    user_fix: str | None = None  # the file right after the user's fix
    context: dict[str, str] = field(default_factory=dict)  # the project's other files at `broken_version`
    awaiting: str = "introduce"  # which flush fills in the next version: introduce / fix / none


@dataclass
class _File:
    path: str
    segments: list[str] = field(default_factory=list)  # as typed so far
    intended: list[str] = field(default_factory=list)  # what each segment should read
    flushed: str = ""  # the text the last packet left
    version: int = 0
    flushed_ts: int = 0
    broken: dict[int, MistakeRecord] = field(default_factory=dict)  # segment -> live mistake

    def text(self) -> str:
        return "".join(self.segments)


def run_outcome(files: list[_File], repl: str) -> tuple[int, str]:
    """Exit code and stderr tail of `python main.py`: the first syntax error Python would hit."""
    ordered = sorted(files, key=lambda f: f.path != "main.py")
    for f in ordered:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                compile(f.text(), f"/home/runner/{repl}/{f.path}", "exec", dont_inherit=True)
            except SyntaxError as exc:
                return 1, "".join(traceback.format_exception_only(exc))[-2000:]
            except ValueError as exc:  # e.g. a null byte
                return 1, f"ValueError: {exc}\n"
    return 0, ""


def _renamed_local(text: str, rng: random.Random) -> str | None:
    """`text` (a function or class) with one local variable renamed throughout, or None."""
    try:
        tree = pyparse.parse(text)
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (SyntaxError, tokenize.TokenError):
        return None
    names = sorted(
        {
            n.id
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
    )
    every_name = {t.string for t in tokens if t.type == tokenize.NAME}
    strings = " ".join(t.string for t in tokens if t.type == tokenize.STRING)
    candidates = [
        n
        for n in names
        if len(n) <= 12
        and f"{n}=" not in text
        and not re.search(rf"\b{re.escape(n)}\b", strings)
        and re.search(rf"\b(global|nonlocal)\b[^\n]*\b{re.escape(n)}\b", text) is None
    ]
    if not candidates:
        return None
    old = rng.choice(candidates)
    new = next((c for c in (f"{old}_value", f"new_{old}", f"{old}2") if c not in every_name), None)
    if new is None:
        return None
    lines = text.splitlines(keepends=True)
    for tok in reversed(tokens):  # right to left, so earlier columns stay valid
        if tok.type == tokenize.NAME and tok.string == old:
            row, col = tok.start
            line = lines[row - 1]
            if line[:col].rstrip().endswith("."):
                continue
            lines[row - 1] = line[:col] + new + line[col + len(old) :]
    out = "".join(lines)
    try:
        pyparse.parse(out)
    except SyntaxError:
        return None
    return out


class ReplSimulator:
    """Writes one project over its sessions. Use `run_session` once per session, in order."""

    def __init__(
        self,
        repl: str,
        project: Project,
        rng: random.Random,
        *,
        user: str,
        mix: dict[str, float],
        timing: TimingModel,
        behaviour: BehaviourModel,
    ):
        self.repl = repl
        self.user = user  # the account that owns the project
        self.project = project
        self.facts = ProjectFacts.of(project)
        self.rng = rng
        self.mix = mix
        self.timing = timing
        self.behaviour = behaviour
        self.files = [_File(f.path) for f in project.files]
        self.order = [(fi, si) for fi, f in enumerate(project.files) for si in range(len(f.segments))]
        self.events: list[dict[str, Any]] = []
        self.publishes: list[PublishPoint] = []
        self.mistakes: list[MistakeRecord] = []
        self.now = 0
        self.session = ""
        self._pending: _File | None = None
        self._pending_start = 0
        self._last_flush: tuple[_File, int, int] | None = None  # file, version, publish-at ts
        self._awaiting: list[MistakeRecord] = []
        self._current: _File | None = None  # the file open in the editor
        # Saves and cursor moves draw from their own stream, so that they leave every edit, mistake
        # and diagnostic of a seed as it was without them.
        self._ide_rng = random.Random(f"{repl}/ide")

    # ---- events, packets and publishing -------------------------------------------------------

    def _event(self, kind: str, ts: int, file: str | None = None, **fields: Any) -> None:
        event: dict[str, Any] = {"v": 1, "session": self.session, "repl": self.repl, "ts": ts, "kind": kind}
        if file is not None:
            event["file"] = file
        event.update(fields)
        self.events.append(event)

    def _flush(self, ts: int) -> None:
        f = self._pending
        self._pending = None
        if f is None:
            return
        text = f.text()
        if text == f.flushed:
            return
        f.version += 1
        self._event(
            "ot", ts, f.path, **make_packet(f.flushed, text, f.version), user=self.user, author="user"
        )
        f.flushed, f.flushed_ts = text, ts
        lo, hi = self.timing.analysis_ms
        self._last_flush = (f, f.version, ts + self.timing.debounce_ms + self.rng.randint(lo, hi))
        for record in self._awaiting:
            if record.file == f.path:
                self._mark(record, f)
        self._awaiting = [r for r in self._awaiting if r.awaiting != "none"]

    def _mark(self, record: MistakeRecord, f: _File) -> None:
        if record.awaiting == "introduce":
            record.introduced_version, record.introduced_ts = f.version, f.flushed_ts
        elif record.awaiting == "fix":
            record.fixed_version, record.fixed_ts, record.fixed_session = (
                f.version,
                f.flushed_ts,
                self.session,
            )
            record.user_fix = f.flushed
        record.awaiting = "none"

    def _await(self, record: MistakeRecord, f: _File, what: str) -> None:
        """The next packet of `f` completes `what` (or the last one did, when nothing is pending)."""
        record.awaiting = what
        if self._pending is f:
            self._awaiting.append(record)
        else:
            self._mark(record, f)

    def _publish_due(self, until: int) -> None:
        """Publishes for the last flushed version if the server got to it before `until`."""
        if self._last_flush is None:
            return
        f, version, at = self._last_flush
        if at <= until and f.version == version:
            self._last_flush = None  # published: once per flushed version
            self.publishes.append(
                PublishPoint(
                    self.session, f.path, version, at, {g.path: g.flushed for g in self.files if g.version}
                )
            )

    def _advance(self, gap: int) -> None:
        target = self.now + gap
        if self._pending is not None and self._pending_start + self.timing.flush_ms <= target:
            self._flush(self._pending_start + self.timing.flush_ms)
        self._publish_due(target - 1)
        self.now = target

    def _edit(self, f: _File, segment: int, start: int, delete: int, insert: str, gap: int) -> None:
        """One keystroke-level edit inside a segment, `gap` ms after the previous one."""
        self._advance(gap)
        if self._pending is not None and self._pending is not f:
            self._flush(self.now)
        text = f.segments[segment]
        f.segments[segment] = text[:start] + insert + text[start + delete :]
        if self._pending is None:
            self._pending, self._pending_start = f, self.now

    def _settle(self, pause: int) -> None:
        """The user stops for `pause` ms: the pending packet goes out, diagnostics may follow."""
        self._advance(pause)

    def _editor(self, f: _File, action: str, **fields: Any) -> None:
        self._event("editor", self.now, f.path, action=action, **fields)

    def _cursor(self, f: _File, segment: int, offset: int) -> None:
        """The user moves the cursor (click, arrows) to `offset` of a segment: a real IDE logs the
        move with its 0-based line."""
        self._advance(self.timing.key_gap(self._ide_rng))
        before = "".join(f.segments[:segment]) + f.segments[segment][:offset]
        self._editor(f, "cursor", line=before.count("\n"))

    # ---- typing --------------------------------------------------------------------------------

    def _type(self, f: _File, segment: int, at: int, text: str, *, careful: bool = False) -> int:
        """Types `text` into a segment at offset `at` keystroke by keystroke; returns the offset
        after it. `careful` typing (fixes) has no typos, sloppiness or pastes."""
        rng, timing, behaviour = self.rng, self.timing, self.behaviour
        pos, i = at, 0
        sloppy = not careful and segment not in f.broken
        while i < len(text):
            ch = text[i]
            if ch == "\n":
                j = i + 1
                while j < len(text) and text[j] == " ":
                    j += 1
                if sloppy and rng.random() < behaviour.trailing_space_rate and i > 0 and text[i - 1] != "\n":
                    self._edit(f, segment, pos, 0, " ", timing.key_gap(rng))
                    pos += 1
                gap = (
                    timing.pause(rng)
                    if rng.random() < timing.line_pause_rate and not careful
                    else timing.key_gap(rng)
                )
                # Enter: the editor's auto-indent brings the next line's indentation along.
                self._edit(f, segment, pos, 0, text[i:j], gap)
                pos += j - i
                i = j
                if not careful and rng.random() < behaviour.paste_line_rate:
                    end = text.find("\n", i)
                    if end > i:
                        self._edit(f, segment, pos, 0, text[i:end], timing.key_gap(rng))
                        self._editor(f, "paste")
                        pos += end - i
                        i = end
                continue
            if not careful and ch.isalpha() and rng.random() < behaviour.typo_rate:
                wrong = rng.choice("asdfghjklqwertyuiop")
                self._edit(f, segment, pos, 0, wrong, timing.key_gap(rng))
                self._edit(f, segment, pos, 1, "", timing.key_gap(rng) + 150)  # backspace
            gap = timing.key_gap(rng)
            if not careful and ch == " " and rng.random() < timing.word_pause_rate:
                gap = timing.pause(rng)
            self._edit(f, segment, pos, 0, ch, gap)
            pos += 1
            i += 1
        return pos

    def _replace(self, f: _File, segment: int, target: str) -> None:
        """Edits a segment into `target`: backspaces or a selection delete, then typing."""
        current = f.segments[segment]
        prefix, suffix = common_affixes(current, target)
        end = len(current) - suffix
        if end - prefix <= 4:
            for k in range(end, prefix, -1):  # backspaces
                self._edit(f, segment, k - 1, 1, "", self.timing.key_gap(self.rng))
        else:  # select the span, then delete
            self._edit(f, segment, prefix, end - prefix, "", self.timing.key_gap(self.rng) + 400)
        self._type(f, segment, prefix, target[prefix : len(target) - suffix], careful=True)

    # ---- what the user does --------------------------------------------------------------------

    def _write_segment(self, f: _File, segment: int, clean: str, written_later: set[str]) -> None:
        f.segments.append("")
        f.intended.append(clean)
        mutation: Mutation | None = None
        if self.rng.random() < self.behaviour.mistake_rate:
            is_import_block = segment == 0 and self.project.files[self.files.index(f)].has_import_block
            mutation = mutate(clean, self.mix, self.facts, self.rng, import_block=is_import_block)
            if mutation is not None and mutation.needs_use_of and not (mutation.needs_use_of & written_later):
                mutation = None  # the missing import would never show in this session
        text = mutation.broken if mutation else clean
        if mutation is not None:
            outcome = self.rng.choices(
                FIX_OUTCOMES, weights=[self.behaviour.fix_weights[o] for o in FIX_OUTCOMES]
            )[0]
            record = MistakeRecord(
                self.repl,
                self.session,
                f.path,
                mutation.kind,
                outcome,
                segment,
                mutation.line,
                needs_use_of=tuple(sorted(mutation.needs_use_of)),
            )
            f.broken[segment] = record
            self.mistakes.append(record)
        if self.rng.random() < self.behaviour.paste_segment_rate:
            self._edit(f, segment, 0, 0, text, self.timing.key_gap(self.rng))
            self._editor(f, "paste")
        else:
            self._type(f, segment, 0, text)
            if self.rng.random() < self.behaviour.undo_rate:
                typed = f.segments[segment]  # with any sloppy spaces the user added
                tail = min(len(typed), self.rng.randint(3, 20))
                self._edit(f, segment, len(typed) - tail, tail, "", self.timing.key_gap(self.rng) + 300)
                self._editor(f, "undo")
                self._edit(f, segment, len(typed) - tail, 0, typed[-tail:], self.rng.randint(500, 1600))
                self._editor(f, "redo")
        if mutation is not None and not mutation.needs_use_of:
            self._await(f.broken[segment], f, "introduce")
        # A missing import shows once a name it binds is used.
        for record in f.broken.values():
            if (
                record.needs_use_of
                and record.introduced_version is None
                and record.awaiting == "introduce"
                and set(re.findall(r"[A-Za-z_]\w*", text)) & set(record.needs_use_of)
            ):
                self._await(record, f, "introduce")

    def _switch_to(self, f: _File) -> None:
        """Opens `f` in the editor unless it is the file being edited; the server publishes for it."""
        if f is self._current:
            return
        self._settle(self.rng.randint(800, 3000))
        self._current = f
        self._editor(f, "open")
        if f.version:
            lo, hi = self.timing.analysis_ms
            self.publishes.append(
                PublishPoint(
                    self.session,
                    f.path,
                    f.version,
                    self.now + self.rng.randint(lo, hi),
                    {g.path: g.flushed for g in self.files if g.version},
                )
            )
            if self._last_flush is not None and self._last_flush[0] is f:
                self._last_flush = None  # this publish covers the version the server was analysing

    def _fix(self, f: _File, segment: int) -> None:
        self._switch_to(f)
        record = f.broken.pop(segment)
        self._settle(self.timing.pause(self.rng))  # reads the diagnostic, goes to the line
        broken = f.segments[segment]
        self._cursor(f, segment, len("".join(broken.splitlines(keepends=True)[: record.line_in_segment])))
        before = f.text()
        record.broken_version = f.version
        clean_segments = list(f.segments)
        clean_segments[segment] = f.intended[segment]
        record.before_fix, record.clean_fix = before, "".join(clean_segments)
        record.context = {g.path: g.flushed for g in self.files if g.version and g is not f}
        target = f.intended[segment]
        if record.outcome == "different":
            alternative = (
                None if record.kind in IMPORT_BLOCK_KINDS else commented_out(target, record.line_in_segment)
            )
            if alternative is None:
                record.outcome = "clean"  # nothing sensible to do instead
            else:
                target = f.intended[segment] = alternative
        # The unrelated edit comes on the way to the mistake, with no pause: no publish between them.
        if record.outcome == "with_unrelated_edits" and not self._comment_elsewhere(f, avoid=segment, careful=True):
            record.outcome = "clean"
        self._replace(f, segment, target)
        self._await(record, f, "fix")

    def _comment_elsewhere(self, f: _File, avoid: int, careful: bool = False) -> bool:
        """Types a comment line above another definition; False when there is none to comment."""
        choices = [
            i for i in range(len(f.segments))
            if i != avoid and i not in f.broken and f.segments[i].strip()
            and not f.segments[i].lstrip("\n").startswith(("import ", "from "))
        ]
        if not choices:
            return False
        segment = self.rng.choice(choices)
        text = f.segments[segment]
        at = len(text) - len(text.lstrip("\n"))
        comment = f"# {self.rng.choice(_COMMENTS)}\n"
        self._cursor(f, segment, at)
        self._type(f, segment, at, comment, careful=careful)
        f.intended[segment] = f.intended[segment][:at] + comment + f.intended[segment][at:]
        return True

    def _refactor(self, f: _File, current: int) -> None:
        choices = [i for i in range(current) if i not in f.broken]
        if not choices:
            return
        segment = self.rng.choice(choices)
        if self.rng.random() < 0.5 and (renamed := _renamed_local(f.segments[segment], self.rng)) is not None:
            self._advance(self.timing.pause(self.rng))
            self._cursor(f, segment, 0)
            self._edit(f, segment, 0, len(f.segments[segment]), renamed, 0)
            self._editor(f, "rename")
            f.intended[segment] = renamed
        else:
            self._comment_elsewhere(f, avoid=current)

    def _format(self, f: _File) -> None:
        self._advance(self.timing.key_gap(self.rng))
        self._editor(f, "format")
        for i, text in enumerate(f.segments):
            if i not in f.broken:
                tidy = re.sub(r"[ \t]+$", "", text, flags=re.MULTILINE)
                if tidy != text:
                    self._edit(f, i, 0, len(text), tidy, 0)

    def _run(self) -> None:
        self._settle(self.timing.key_gap(self.rng))
        if self._current is not None:
            self._editor(self._current, "save")  # the editor saves before it runs
        code, stderr = run_outcome([f for f in self.files if f.version], self.repl)
        self._event("run", self.now, command="python main.py", exit_code=code, stderr_tail=stderr)

    def run_session(self, session: str, start_ts: int, chunk: list[tuple[int, int]]) -> int:
        """Writes the segments in `chunk` (file index, segment index) as session `session`,
        starting at `start_ts`; returns the time the session ended."""
        rng, behaviour = self.rng, self.behaviour
        self.session, self.now = session, start_ts
        self._last_flush = None
        if rng.random() < behaviour.install_rate:
            manager, command = rng.choice(_INSTALLERS)
            packages = sorted(rng.sample(_PACKAGES, rng.randint(1, 2)))
            self._event("shell", self.now, command=f"{command} {' '.join(packages)}")
            self.now += rng.randint(2000, 9000)
            self._event("package_install", self.now, manager=manager, packages=packages)
        if rng.random() < behaviour.shell_rate:
            self._event("shell", self.now, command=rng.choice(_SHELL_COMMANDS))
            self.now += rng.randint(1500, 6000)
        self._current = None
        due: list[tuple[int, _File, int]] = []  # (segments written when it is fixed, file, segment)
        for n, (fi, si) in enumerate(chunk):
            f = self.files[fi]
            self._switch_to(f)
            later = {
                name
                for fj, sj in chunk[n + 1 :]
                if fj == fi
                for name in re.findall(r"[A-Za-z_]\w*", self.project.files[fj].segments[sj])
            }
            self._write_segment(f, si, self.project.files[fi].segments[si], later)
            if si in f.broken:
                record = f.broken[si]
                delay = rng.choices(
                    range(len(behaviour.fix_delay_weights)), weights=behaviour.fix_delay_weights
                )[0]
                if record.needs_use_of:
                    users = [
                        k
                        for k, (fj, sj) in enumerate(chunk)
                        if k > n
                        and fj == fi
                        and set(re.findall(r"[A-Za-z_]\w*", self.project.files[fj].segments[sj]))
                        & set(record.needs_use_of)
                    ]
                    delay += users[0] - n if users else 0
                if record.outcome != "never":
                    due.append((n + delay, f, si))
            self._settle(self.timing.pause(rng))  # the end of a definition: a look at the code
            if self._ide_rng.random() < behaviour.save_rate:
                self._editor(f, "save")
            for item in [d for d in due if d[0] <= n]:
                due.remove(item)
                if item[2] in item[1].broken:
                    self._fix(item[1], item[2])
                    self._settle(self.timing.pause(rng))
            if rng.random() < behaviour.refactor_rate:
                self._refactor(f, si)
                self._settle(self.timing.pause(rng))
            if rng.random() < behaviour.format_rate:
                self._format(f)
                self._settle(self.timing.pause(rng))
            if rng.random() < behaviour.run_rate:
                self._run()
                self._settle(rng.randint(1500, 8000))
        for _, f, segment in due:
            if segment in f.broken:
                self._fix(f, segment)
                self._settle(self.timing.pause(rng))
        if rng.random() < 0.5:
            self._run()
        self._settle(self.timing.flush_ms + self.timing.debounce_ms + self.timing.analysis_ms[1] + 1)
        return self.now

    def finish(self) -> None:
        """After the last session: mistakes never fixed keep the final file as their state."""
        for f in self.files:
            for segment, record in sorted(f.broken.items()):
                clean_segments = list(f.segments)
                clean_segments[segment] = f.intended[segment]
                record.before_fix, record.clean_fix = f.text(), "".join(clean_segments)
                record.context = {g.path: g.flushed for g in self.files if g.version and g is not f}
                record.broken_version = f.version
