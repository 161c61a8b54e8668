"""`repair lsp`: the language server an editor starts (pygls, over stdio).

What it does, per open Python document:

- **Diagnostics.** Each opened, changed (after a short debounce) or saved document is linted by the
  linting service (`repair.lint.WarmLinter`: ruff + basedpyright, the configuration every stage
  shares) with the other `.py` files of its folder beside it, and the result is published.
- **Fixes.** A code action request over an error diagnostic asks the served model (Triton gRPC,
  `repair.serving.client.RepairClient`) for a fix, verifies the diff (`repair.verify.Verifier`:
  applies, parses, the diagnostic is gone, no new error) and offers it as the quick fix
  "Fix with code_repair". The model call and the verification share one latency budget
  (`timeoutMs`); past it, or when Triton is unreachable, no action is offered and diagnostics keep
  flowing. After a failed call the server leaves Triton alone for `retryAfterMs`.
- **Feedback.** What becomes of each offer is recorded as `repair_feedback` events
  (`repair.feedback`): `offered`; `accepted` when the client applies it (the action's command, or
  the document becoming the fixed text); `undone` when an applied fix's document returns to the
  text it was offered on; `rejected` when the diagnostic goes away by other edits (with the user's
  own fix as `user_diff`) or the document closes with the offer still open.

Settings come from the client's `initializationOptions` (camelCase keys below), else the
environment, else the defaults: `tritonUrl` ($REPAIR_TRITON_URL, 127.0.0.1:8001), `timeoutMs`
($REPAIR_LSP_TIMEOUT_MS, 3000), `model` (code_repair), `feedbackStore` ($REPAIR_FEEDBACK_STORE, a
local folder or gs:// URI; default ~/.local/state/code_repair/store, "" turns recording off),
`repl` (the project id in events; default the workspace folder's name), `debounceMs` (300).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from repair.diagnostic import Diagnostic
from repair.feedback import ACCEPTED, OFFERED, REJECTED, UNDONE, FeedbackLog, feedback_event, feedback_id
from repair.linediff import make_diff, render_diff
from repair.lsp.edits import text_edits

log = logging.getLogger(__name__)

ACTION_TITLE = "Fix with code_repair"
APPLIED_COMMAND = "code_repair.applied"
MAX_SIBLINGS = 200  # other .py files of the folder linted along (imports resolve), at most
MAX_FIXES_PER_REQUEST = 3  # error diagnostics asked about in one code action request
OFFER_CACHE_SIZE = 512
SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


def default_feedback_store() -> str:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(state) / "code_repair" / "store")


# initializationOptions key -> Settings field
OPTIONS = {
    "tritonUrl": "triton_url",
    "timeoutMs": "timeout_ms",
    "model": "model",
    "feedbackStore": "feedback_store",
    "repl": "repl",
    "debounceMs": "debounce_ms",
    "retryAfterMs": "retry_after_ms",
}


@dataclass(frozen=True)
class Settings:
    triton_url: str = "127.0.0.1:8001"
    timeout_ms: int = 3000
    model: str = "code_repair"
    feedback_store: str = ""
    repl: str = ""
    debounce_ms: int = 300
    retry_after_ms: int = 5000


    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            triton_url=env.get("REPAIR_TRITON_URL", cls.triton_url),
            timeout_ms=int(env.get("REPAIR_LSP_TIMEOUT_MS", cls.timeout_ms)),
            feedback_store=env.get("REPAIR_FEEDBACK_STORE", default_feedback_store()),
        )

    def with_options(self, options: Any) -> Settings:
        """These settings overridden by the client's initialization options; unknown keys and
        values of the wrong type raise ValueError naming them."""
        if not options:
            return self
        if not isinstance(options, dict):
            raise TypeError(f"initializationOptions must be an object, got {type(options).__name__}")
        changes = {}
        for key, value in options.items():
            if key not in OPTIONS:
                raise ValueError(f"unknown initialization option {key!r} (known: {', '.join(OPTIONS)})")
            name = OPTIONS[key]
            want = type(getattr(self, name))
            if want is int and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = int(value)
            if not isinstance(value, want) or (want is int and value < 0):
                raise ValueError(f"initialization option {key!r} must be a {want.__name__} (>= 0 for numbers)")
            changes[name] = value
        return replace(self, **changes)


@dataclass
class Linted:
    """A document's text at one version and the diagnostics published for it."""

    version: int
    text: str
    diagnostics: list[Diagnostic]


@dataclass
class Offer:
    """One verified fix offered for one diagnostic of one document text."""

    id: str
    uri: str
    file: str
    diagnostic: Diagnostic
    diagnostic_id: str
    code: str  # the document text the fix was computed on
    fixed: str
    diff: str
    model_version: str
    latency_ms: int
    prompt: str
    state: str = OFFERED  # offered -> accepted -> (undone); offered -> rejected
    edits: list[types.TextEdit] = field(default_factory=list)

    @property
    def watch_key(self) -> tuple[str, str, str, str]:
        d = self.diagnostic
        return (self.uri, d.source, d.code, d.message)


def _text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def to_lsp(diagnostic: Diagnostic, diagnostic_id: str) -> types.Diagnostic:
    return types.Diagnostic(
        range=types.Range(
            start=types.Position(line=diagnostic.start_line, character=diagnostic.start_character),
            end=types.Position(line=diagnostic.end_line, character=diagnostic.end_character),
        ),
        message=diagnostic.message,
        severity=SEVERITY.get(diagnostic.severity, types.DiagnosticSeverity.Error),
        code=diagnostic.code,
        source=diagnostic.source,
        data={"id": diagnostic_id},
    )


def _overlaps(diagnostic: Diagnostic, rng: types.Range) -> bool:
    """Whether the diagnostic's lines meet the requested range's lines (editors ask for the cursor's
    position, often outside the diagnostic's exact columns)."""
    return diagnostic.start_line <= rng.end.line and rng.start.line <= diagnostic.end_line


class RepairLanguageServer(LanguageServer):
    def __init__(self, settings: Settings | None = None):
        super().__init__("code-repair", "1")
        self.settings = settings or Settings.from_environment()
        self.session = f"lsp-{uuid.uuid4().hex[:16]}"
        self.linted: dict[str, Linted] = {}
        self.offers: dict[str, Offer] = {}  # by id
        self.watched: dict[tuple[str, str, str, str], Offer] = {}  # open/accepted offer per diagnostic
        self._offer_cache: dict[tuple[str, str, str, str, int, int, str], Offer | None] = {}
        self._lint_tasks: dict[str, asyncio.Task] = {}
        self._lint_pool = ThreadPoolExecutor(1, thread_name_prefix="lint")  # the warm linter is one
        self._model_pool = ThreadPoolExecutor(4, thread_name_prefix="triton")
        self._linter = None
        self._verifier = None
        self._client = None
        self._triton_down_until = 0.0
        self.feedback: FeedbackLog | None = None

    # -- configuration

    def configure(self, options: Any, root: str | None) -> None:
        self.settings = self.settings.with_options(options)
        if not self.settings.repl:
            name = Path(root).name if root else "workspace"
            self.settings = replace(self.settings, repl=name or "workspace")
        if self.settings.feedback_store:
            from repair.object_store import open_store

            self.feedback = FeedbackLog(open_store(self.settings.feedback_store), self.session)
        from repair.serving.client import RepairClient

        # No retries: the budget is the editor's, and a transient failure means "no action this time".
        self._client = RepairClient(
            self.settings.triton_url,
            model=self.settings.model,
            timeout_s=self.settings.timeout_ms / 1000,
            retries=0,
        )

    def close(self) -> None:
        for offer in list(self.watched.values()):
            if offer.state == OFFERED:
                self._record(offer, REJECTED)
        self.watched.clear()
        self._flush()
        if self._linter is not None:
            self._lint_pool.submit(self._linter.close).result()
            self._linter = None
        if self._client is not None:
            self._client.close()
            self._client = None
        self._lint_pool.shutdown(wait=False, cancel_futures=True)
        self._model_pool.shutdown(wait=False, cancel_futures=True)

    # -- linting (runs in the one lint thread)

    def _project(self, uri: str, text: str) -> tuple[dict[str, str], str]:
        """The document's folder as the project: its `.py` files from disk, open documents as the
        editor holds them, and the document itself."""
        path = Path(to_fs_path(uri) or "main.py")
        name = path.name
        files: dict[str, str] = {}
        folder = path.parent
        if folder.is_dir():
            for sibling in sorted(folder.glob("*.py"))[:MAX_SIBLINGS]:
                if sibling.name != name:
                    try:
                        files[sibling.name] = sibling.read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        continue
        for other_uri, linted in self.linted.items():
            other = Path(to_fs_path(other_uri) or "")
            if other.parent == folder and other.name != name and other.name in files:
                files[other.name] = linted.text
        files[name] = text
        return files, name

    def _lint(self, uri: str, text: str) -> list[Diagnostic]:
        from repair.lint import WarmLinter
        from repair.verify import Verifier

        if self._linter is None:
            self._linter = WarmLinter()
            self._linter.start()
            self._verifier = Verifier(self._linter)
        files, name = self._project(uri, text)
        return self._linter.check(files, name)

    def _verify(self, uri: str, code: str, diagnostic: Diagnostic, diff: str):
        assert self._verifier is not None
        files, name = self._project(uri, code)
        return self._verifier.verify(code, diagnostic, diff, name, files)

    async def lint_now(self, uri: str) -> Linted | None:
        document = self.workspace.get_text_document(uri)
        version, text = document.version or 0, document.source
        try:
            found = await asyncio.get_running_loop().run_in_executor(self._lint_pool, self._lint, uri, text)
        except Exception as error:  # noqa: BLE001 (a bad file or a crashed linter: say so, keep serving)
            self.window_log_message(
                types.LogMessageParams(types.MessageType.Warning, f"code_repair: linting {uri} failed: {error}")
            )
            return None
        current = self.workspace.get_text_document(uri)
        if uri not in self.workspace.text_documents or current.source != text:
            return None  # closed or edited meanwhile: a newer lint is on its way
        linted = Linted(version, text, found)
        self.linted[uri] = linted
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri,
                version=version,
                diagnostics=[to_lsp(d, self.diagnostic_id(uri, text, d)) for d in found],
            )
        )
        self._settle(uri, linted)
        return linted

    def schedule_lint(self, uri: str, delay_s: float) -> None:
        if (task := self._lint_tasks.get(uri)) is not None and not task.done():
            task.cancel()

        async def later() -> None:
            await asyncio.sleep(delay_s)
            await self.lint_now(uri)

        self._lint_tasks[uri] = asyncio.get_running_loop().create_task(later())

    async def current(self, uri: str) -> Linted | None:
        """The diagnostics of the document's current text (linting it now if they are stale)."""
        if uri not in self.workspace.text_documents:
            return None
        text = self.workspace.get_text_document(uri).source
        linted = self.linted.get(uri)
        if linted is not None and linted.text == text:
            return linted
        if (task := self._lint_tasks.get(uri)) is not None and not task.done():
            task.cancel()
        return await self.lint_now(uri)

    def diagnostic_id(self, uri: str, text: str, d: Diagnostic) -> str:
        return feedback_id(self.settings.repl, uri, _text_hash(text), d.source, d.code, d.start_line, d.start_character, d.message)

    # -- fixes

    async def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        linted = await self.current(uri)
        if linted is None:
            return []
        wanted = [d for d in linted.diagnostics if d.severity == "error" and _overlaps(d, params.range)]
        actions = []
        deadline = time.monotonic() + self.settings.timeout_ms / 1000
        for diagnostic in wanted[:MAX_FIXES_PER_REQUEST]:
            offer = await self.offer(uri, linted, diagnostic, deadline)
            if offer is not None:
                actions.append(self._action(offer))
        return actions

    def _action(self, offer: Offer) -> types.CodeAction:
        return types.CodeAction(
            title=ACTION_TITLE,
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[to_lsp(offer.diagnostic, offer.diagnostic_id)],
            is_preferred=True,
            edit=types.WorkspaceEdit(changes={offer.uri: offer.edits}),
            command=types.Command(title=ACTION_TITLE, command=APPLIED_COMMAND, arguments=[offer.id]),
        )

    async def offer(self, uri: str, linted: Linted, diagnostic: Diagnostic, deadline: float) -> Offer | None:
        """The verified fix for `diagnostic` in the linted text, from the cache or the model within
        the budget; None when there is none (or no answer in time)."""
        d = diagnostic
        key = (uri, _text_hash(linted.text), d.source, d.code, d.start_line, d.start_character, d.message)
        if key in self._offer_cache:
            cached = self._offer_cache[key]
            if cached is None or self.watched.get(cached.watch_key) is cached:
                return cached  # no fix, or the offer still open (editors ask on every cursor move)
            # Offered again after it was refused or undone: a new offer of the same fix.
            cached = replace(cached, id=uuid.uuid4().hex, state=OFFERED)
            self._offer_cache[key] = cached
            self._publish_offer(cached)
            return cached
        if time.monotonic() < self._triton_down_until:
            return None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            offer = await asyncio.wait_for(self._make_offer(uri, linted, diagnostic), remaining)
        except (TimeoutError, ConnectionError) as error:
            self._triton_down_until = time.monotonic() + self.settings.retry_after_ms / 1000
            self.window_log_message(
                types.LogMessageParams(types.MessageType.Info, f"code_repair: no fix offered: {error or 'timed out'}")
            )
            return None
        if len(self._offer_cache) >= OFFER_CACHE_SIZE:
            self._offer_cache.pop(next(iter(self._offer_cache)))
        self._offer_cache[key] = offer
        if offer is not None:
            self._publish_offer(offer)
        return offer

    def _publish_offer(self, offer: Offer) -> None:
        self.offers[offer.id] = offer
        self._watch(offer)
        self._record(offer, OFFERED)

    async def _make_offer(self, uri: str, linted: Linted, diagnostic: Diagnostic) -> Offer | None:
        from repair.dataset import DEFAULT_WINDOW
        from repair.prompt import PromptError, render_prompt
        from repair.serving.client import RepairClientError, ServerUnavailable

        assert self._client is not None
        loop = asyncio.get_running_loop()
        file_name = Path(to_fs_path(uri) or "main.py").name
        started = time.monotonic()
        try:
            answer = await loop.run_in_executor(
                self._model_pool, self._client.repair, linted.text, diagnostic, file_name
            )
        except ServerUnavailable as error:
            raise ConnectionError(str(error)) from None
        except RepairClientError as error:
            self.window_log_message(types.LogMessageParams(types.MessageType.Warning, f"code_repair: {error}"))
            return None
        latency_ms = round((time.monotonic() - started) * 1000)
        if not answer.fixed:
            return None
        verdict = await loop.run_in_executor(self._lint_pool, self._verify, uri, linted.text, diagnostic, answer.diff)
        if not verdict.accepted or verdict.fixed_content is None:
            log.info("model fix rejected by verification: %s %s", verdict.verdict, verdict.detail)
            return None
        try:
            prompt = render_prompt(linted.text, diagnostic, file_name, DEFAULT_WINDOW)
        except PromptError:
            prompt = ""
        document = self.workspace.get_text_document(uri)
        return Offer(
            id=uuid.uuid4().hex,
            uri=uri,
            file=file_name,
            diagnostic=diagnostic,
            diagnostic_id=self.diagnostic_id(uri, linted.text, diagnostic),
            code=linted.text,
            fixed=verdict.fixed_content,
            diff=answer.diff,
            model_version=answer.model_version or "",
            latency_ms=latency_ms,
            prompt=prompt,
            edits=text_edits(linted.text, verdict.fixed_content, document.position_codec),
        )

    # -- feedback

    def _watch(self, offer: Offer) -> None:
        """An open offer replaces an older open one for the same diagnostic (the older was made on
        text the user has since edited: neither taken nor refused)."""
        previous = self.watched.get(offer.watch_key)
        if previous is None or previous.state == OFFERED or previous is offer:
            self.watched[offer.watch_key] = offer

    def _record(self, offer: Offer, action: str, user_diff: str | None = None) -> None:
        offer.state = action
        if self.feedback is None:
            return
        d = offer.diagnostic
        self.feedback.record(
            feedback_event(
                session=self.session,
                repl=self.settings.repl,
                ts=int(time.time() * 1000),
                diagnostic_id=offer.diagnostic_id,
                model_version=offer.model_version,
                diff=offer.diff,
                action=action,
                latency_ms=offer.latency_ms,
                file=offer.file,
                rule=f"{d.source}:{d.code}",
                prompt=offer.prompt or None,
                user_diff=user_diff,
            )
        )
        self._flush()

    def _flush(self) -> None:
        if self.feedback is None:
            return
        try:
            self.feedback.flush()
        except Exception as error:  # noqa: BLE001 (the store being away must not take the editor's server down)
            log.warning("could not write feedback events: %s", error)

    def applied(self, offer_id: str) -> None:
        offer = self.offers.get(offer_id)
        if offer is not None and offer.state == OFFERED:
            self._record(offer, ACCEPTED)
            self.watched[offer.watch_key] = offer

    def _settle(self, uri: str, linted: Linted) -> None:
        """Open offers of this document whose diagnostic is gone: taken if the text is the fix,
        else refused (the user fixed it another way); taken offers whose text came back: undone."""
        present = {(d.source, d.code, d.message) for d in linted.diagnostics}
        for key, offer in list(self.watched.items()):
            if offer.uri != uri:
                continue
            if offer.state == ACCEPTED:
                if linted.text == offer.code:
                    self._record(offer, UNDONE)
                    del self.watched[key]
            elif offer.state == OFFERED:
                if linted.text == offer.fixed:
                    self._record(offer, ACCEPTED)
                elif key[1:] not in present:
                    self._record(offer, REJECTED, render_diff(make_diff(offer.code, linted.text)))
                    del self.watched[key]

    def closed(self, uri: str) -> None:
        for key, offer in list(self.watched.items()):
            if offer.uri == uri:
                if offer.state == OFFERED:
                    self._record(offer, REJECTED)
                del self.watched[key]
        self.linted.pop(uri, None)
        if (task := self._lint_tasks.pop(uri, None)) is not None:
            task.cancel()


def build_server(settings: Settings | None = None) -> RepairLanguageServer:
    server = RepairLanguageServer(settings)

    @server.feature(types.INITIALIZE)
    def initialize(ls: RepairLanguageServer, params: types.InitializeParams) -> None:
        root = None
        if params.workspace_folders:
            root = to_fs_path(params.workspace_folders[0].uri)
        elif params.root_uri:
            root = to_fs_path(params.root_uri)
        ls.configure(params.initialization_options, root)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: RepairLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        await ls.lint_now(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: RepairLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule_lint(params.text_document.uri, ls.settings.debounce_ms / 1000)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: RepairLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.schedule_lint(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: RepairLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.closed(params.text_document.uri)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    async def code_action(ls: RepairLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return await ls.code_actions(params)

    @server.command(APPLIED_COMMAND)
    def applied(ls: RepairLanguageServer, *args: Any) -> None:
        ids = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        for offer_id in ids:
            ls.applied(str(offer_id))

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: RepairLanguageServer, *args: Any) -> None:
        ls.close()

    return server
