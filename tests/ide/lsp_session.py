"""A pygls client driving a real `repair lsp` subprocess over stdio, for the language server tests."""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

# The broken file of the served model's learned case (tests/conftest.py): the model fixes line 3.
BROKEN = "import turtle\n\nscreen = turtle.screen\nscreen.bgcolor('black')\n"
FIXED = "import turtle\n\nscreen = turtle.Screen()\nscreen.bgcolor('black')\n"


class Session:
    def __init__(self, client: LanguageClient, root: Path):
        self.client = client
        self.root = root
        self.diagnostics: dict[str, list[types.Diagnostic]] = {}
        self.published = asyncio.Condition()
        self.versions: dict[str, int] = {}
        self.texts: dict[str, str] = {}

    def uri(self, name: str) -> str:
        return (self.root / name).as_uri()

    async def wait_diagnostics(self, name: str, predicate=lambda ds: True, timeout: float = 60) -> list[types.Diagnostic]:
        uri = self.uri(name)
        async with self.published:
            await asyncio.wait_for(
                self.published.wait_for(lambda: uri in self.diagnostics and predicate(self.diagnostics[uri])),
                timeout,
            )
            return self.diagnostics[uri]

    def open(self, name: str, text: str) -> None:
        (self.root / name).write_text(text)
        self.versions[name] = 1
        self.texts[name] = text
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                types.TextDocumentItem(uri=self.uri(name), language_id="python", version=1, text=text)
            )
        )

    def change(self, name: str, text: str) -> None:
        self.versions[name] += 1
        self.texts[name] = text
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=self.uri(name), version=self.versions[name]),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def close(self, name: str) -> None:
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri=self.uri(name)))
        )

    async def code_actions(self, name: str, line: int) -> list[types.CodeAction]:
        result = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri(name)),
                range=types.Range(types.Position(line, 0), types.Position(line, 0)),
                context=types.CodeActionContext(diagnostics=self.diagnostics.get(self.uri(name), [])),
            )
        )
        return [a for a in result or [] if isinstance(a, types.CodeAction)]

    async def apply(self, name: str, action: types.CodeAction) -> str:
        """What an editor does with the action: apply its edit, then run its command."""
        from pygls.workspace import TextDocument

        assert action.edit is not None and action.edit.changes is not None
        document = TextDocument(self.uri(name), self.texts[name])
        for edit in action.edit.changes[self.uri(name)]:
            document.apply_change(types.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text))
        self.change(name, document.source)
        if action.command is not None:
            await self.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command=action.command.command, arguments=action.command.arguments)
            )
        return document.source


def _converter():
    """lsprotocol's converter reads a code action with a command as a `Command` (the union's first
    member): tell them apart by the fields only a `CodeAction` has."""
    from typing import Union

    from pygls.protocol import default_converter

    converter = default_converter()
    converter.register_structure_hook(
        Union[types.Command, types.CodeAction],  # noqa: UP007 (the union lsprotocol's type names)
        lambda value, _: converter.structure(
            value, types.Command if isinstance(value.get("command"), str) else types.CodeAction
        ),
    )
    return converter


@asynccontextmanager
async def lsp_session(root: Path, options: dict[str, Any] | None = None, env: dict[str, str] | None = None):
    client = LanguageClient("repair-tests", "1", converter_factory=_converter)
    session = Session(client, root)

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    async def on_diagnostics(ls, params: types.PublishDiagnosticsParams) -> None:
        async with session.published:
            session.diagnostics[params.uri] = params.diagnostics
            session.published.notify_all()

    server_env = {**os.environ, **(env or {})}
    await client.start_io(
        sys.executable, "-m", "repair.cli", "lsp", "--log-file", str(root.parent / "lsp.log"), env=server_env
    )
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=root.as_uri(),
            initialization_options=options,
        )
    )
    client.initialized(types.InitializedParams())
    try:
        yield session
    finally:
        await asyncio.wait_for(client.shutdown_async(None), 30)
        client.exit(None)
        await client.stop()


def run(coroutine, timeout: float = 240):
    return asyncio.run(asyncio.wait_for(coroutine, timeout))
