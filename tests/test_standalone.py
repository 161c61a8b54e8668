"""The repository stands alone: nothing it ships points at files that live beside it."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"CONTRACTS\.md|CONTRACTS section|\.\./shared/|/work/shared")
DOC_CITATION = re.compile(r"\bdocs/([\w-]+\.md)")


def _tracked_text_files():
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in names.splitlines():
        path = ROOT / name
        if path.suffix in {".py", ".md", ".pbtxt", ".yaml", ".toml"} and path.is_file() and name != "uv.lock":
            yield name, path.read_text(encoding="utf-8", errors="replace")


def test_no_file_cites_a_document_outside_the_repository():
    offenders = [
        f"{name}:{n}: {line.strip()[:100]}"
        for name, text in _tracked_text_files()
        if name != "tests/test_standalone.py"
        for n, line in enumerate(text.splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not offenders, "\n".join(offenders)


def test_every_cited_docs_page_exists():
    missing = sorted(
        {f"{name} cites docs/{page}" for name, text in _tracked_text_files() for page in DOC_CITATION.findall(text)
         if not (ROOT / "docs" / page).is_file()}
    )
    assert not missing, "\n".join(missing)
