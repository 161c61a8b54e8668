"""Loaders for the public DebugBench and HumanEvalPack files, so that a user can point the
executable benchmark at them (`repair eval --function-source PATH`, or the asset's config).

DebugBench (`Rtian/DebugBench`): a JSON array (or JSON Lines) of objects with `slug`, `Category`,
`subtype`, `language`, `question`, `examples` (strings such as
`"Input: nums = [2,7,11,15], target = 9\\nOutput: [0,1]"`), `solution` (the correct code, a
LeetCode `class Solution`) and `buggy_code`. DebugBench ships no tests (it submits to LeetCode), so
the tests are built from the examples: each becomes `assert Solution().<method>(**inputs) == output`.
Only Python items whose examples parse as literals are kept; the rest are quarantined with the reason.
The item's own `buggy_code` becomes a bug of kind `subtype` when the subtype is one the language
server can point at (`evals.inject.KINDS`).

HumanEvalPack (`bigcode/humanevalpack`, the `python` subset): JSON Lines with `task_id`, `prompt`
(imports, signature and docstring), `canonical_solution`, `buggy_solution`, `bug_type`,
`entry_point` and `test` (a `def check(candidate)` followed by a module-level `check(<entry>)` call).
The program is `prompt + canonical_solution`; its buggy variant `prompt + buggy_solution` is a bug of
kind `humanevalpack: <bug_type>` (logic bugs: the linter filter usually drops them; the program
still receives injected bugs).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evals.inject import KINDS, Bug, function_spans
from evals.sources import Program, function_program
from repair import pyparse

# LeetCode's Python 3 environment imports these for every solution.
LEETCODE_PRELUDE = (
    "from typing import Dict, List, Optional, Set, Tuple\n"
    "import bisect, collections, heapq, itertools, math\n"
    "from collections import Counter, defaultdict, deque\n\n"
)


@dataclass
class LoadedBenchmark:
    programs: list[Program] = field(default_factory=list)
    bugs: list[Bug] = field(default_factory=list)
    quarantined: list[dict[str, str]] = field(default_factory=list)  # {"record", "reason"}


def _read_records(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        records = json.loads(text)
    else:
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
    if not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{path}: expected JSON objects")
    return records


def _literal(text: str):
    """A LeetCode example value (`[1,2]`, `"ab"`, `true`, `null`) as a Python value."""
    python = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", text)))
    try:
        return ast.literal_eval(pyparse.parse(python.strip(), mode="eval"))
    except (ValueError, SyntaxError) as exc:
        raise ValueError(f"{text.strip()[:60]!r} is not a literal") from exc


def parse_example(example: str) -> tuple[dict[str, object], object]:
    """(keyword inputs, expected output) of one DebugBench example; `ValueError` if it does not parse."""
    match = re.search(r"Input:\s*(.*?)\s*Output:\s*(.*?)(?:\s*Explanation:.*)?$", example, re.DOTALL)
    if not match:
        raise ValueError("no 'Input: ... Output: ...' in the example")
    inputs_text, output_text = match.groups()
    try:
        call = pyparse.parse(f"f({inputs_text.strip()})", mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"inputs {inputs_text[:60]!r} are not `name = value, ...`") from exc
    if not isinstance(call, ast.Call) or call.args:
        raise ValueError(f"inputs {inputs_text[:60]!r} are not `name = value, ...`")
    try:
        inputs = {kw.arg or "": _literal(ast.unparse(kw.value)) for kw in call.keywords}
        expected = _literal(output_text.strip().splitlines()[0])
    except ValueError as exc:
        raise ValueError(f"example values are not literals: {exc}") from exc
    return inputs, expected


def _solution_method(code: str) -> str:
    methods = [name.split(".", 1)[1] for name in function_spans(code) if name.startswith("Solution.")]
    public = [m for m in methods if not m.startswith("_") and "." not in m]
    if not public:
        raise ValueError("no public method in `class Solution`")
    return public[0]


def load_debugbench(path: Path) -> LoadedBenchmark:
    loaded = LoadedBenchmark()
    for number, record in enumerate(_read_records(path), 1):
        name = f"debugbench:{record.get('slug') or number}"
        try:
            if str(record.get("language", "python3")).lower() not in ("python3", "python"):
                raise ValueError(f"language {record.get('language')!r} is not Python")
            solution = LEETCODE_PRELUDE + record["solution"].strip() + "\n"
            method = _solution_method(solution)
            tests = []
            for index, example in enumerate(record.get("examples") or []):
                inputs, expected = parse_example(example)
                tests.append(
                    f"def test_example_{index}():\n"
                    f"    assert Solution().{method}(**{inputs!r}) == {expected!r}\n"
                )
            if not tests:
                raise ValueError("no examples to build tests from")
        except (KeyError, ValueError, SyntaxError) as exc:
            reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            loaded.quarantined.append({"record": name, "reason": reason})
            continue
        loaded.programs.append(function_program(name, "debugbench", solution, "\n\n" + "\n\n".join(tests)))
        subtype = str(record.get("subtype", "")).strip()
        buggy = record.get("buggy_code")
        if subtype in KINDS and buggy:
            buggy_code = LEETCODE_PRELUDE + buggy.strip() + "\n"
            loaded.bugs.append(Bug(name, subtype, f"Solution.{method}", 0, buggy_code,
                                   str(record.get("bug_explanation", "")) or "DebugBench's own bug", "external"))
    return loaded


def _check_call_removed(test: str, entry_point: str) -> str:
    return "\n".join(line for line in test.split("\n") if not re.match(rf"check\(\s*{re.escape(entry_point)}\s*\)", line))


def load_humanevalpack(path: Path) -> LoadedBenchmark:
    loaded = LoadedBenchmark()
    for number, record in enumerate(_read_records(path), 1):
        name = f"humanevalpack:{record.get('task_id') or number}"
        try:
            entry = record["entry_point"]
            code = record["prompt"] + record["canonical_solution"]
            if not code.endswith("\n"):
                code += "\n"
            pyparse.parse(code)
            test_body = _check_call_removed(record["test"], entry)
            tests = f"{test_body}\n\n\ndef test_{entry}():\n    check({entry})\n"
        except KeyError as exc:
            loaded.quarantined.append({"record": name, "reason": f"missing field {exc}"})
            continue
        except SyntaxError as exc:
            loaded.quarantined.append({"record": name, "reason": f"solution does not parse: {exc.msg}"})
            continue
        loaded.programs.append(function_program(name, "humanevalpack", code, tests))
        if record.get("buggy_solution"):
            loaded.bugs.append(Bug(name, f"humanevalpack: {record.get('bug_type', 'unknown')}", entry, 0,
                                   record["prompt"] + record["buggy_solution"].rstrip("\n") + "\n",
                                   "HumanEvalPack's own bug", "external"))
    return loaded


def load_benchmark_file(path: Path) -> LoadedBenchmark:
    """Either format, told apart by its fields (`task_id` + `entry_point`: HumanEvalPack)."""
    records = _read_records(path)
    if records and "entry_point" in records[0]:
        return load_humanevalpack(path)
    return load_debugbench(path)


def load_handwritten(directory: Path | None = None) -> LoadedBenchmark:
    """The hand-written bugs (`evals/problems/handwritten`, see its `bugs.toml`): one broken copy of a
    problem's solution per file `<problem>--<slug>.txt`, kind `handwritten: <category>`, with the
    person's own fix from `fixes/` when there is one. A file the manifest does not describe, or a
    problem that does not exist, is quarantined with the reason."""
    import difflib
    import tomllib

    from evals.sources import HANDWRITTEN_DIR, PROBLEMS_DIR, split_problem

    directory = directory or HANDWRITTEN_DIR
    manifest = tomllib.loads((directory / "bugs.toml").read_text(encoding="utf-8"))
    loaded = LoadedBenchmark()
    for path in sorted(directory.glob("*.txt")):
        problem = path.name.split("--", 1)[0]
        described = manifest.get(path.name, "")
        category, _, what = described.partition(":")
        if not what:
            loaded.quarantined.append({"record": f"handwritten:{path.name}",
                                       "reason": "not in bugs.toml as `category: what went wrong`"})
            continue
        if not (PROBLEMS_DIR / f"{problem}.py").is_file():
            loaded.quarantined.append({"record": f"handwritten:{path.name}", "reason": f"no problem {problem!r}"})
            continue
        fix = directory / "fixes" / path.name
        broken = path.read_text(encoding="utf-8")
        solution, _ = split_problem((PROBLEMS_DIR / f"{problem}.py").read_text(encoding="utf-8"), problem)
        # The first line the person changed: where the item's diagnostic is looked for first.
        changed = next((start + 1 for tag, _, _, start, _ in difflib.SequenceMatcher(
            None, solution.splitlines(), broken.splitlines(), autojunk=False).get_opcodes() if tag != "equal"), 0)
        loaded.bugs.append(Bug(f"problem:{problem}", f"handwritten: {category.strip()}", path.stem, changed, broken,
                               what.strip(), "handwritten", fix.read_text(encoding="utf-8") if fix.is_file() else None))
    return loaded


def collect_programs(
    *, stdlib: bool = True, problems: bool = True, handwritten: bool = True, files: Sequence[str | Path] = ()
) -> LoadedBenchmark:
    """Every program the executable benchmark draws from: the reserved stdlib modules, this
    project's problems (with the hand-written bugs when `handwritten`) and any DebugBench /
    HumanEvalPack files, with the files' own bugs and quarantined records."""
    from evals.sources import problem_programs, stdlib_programs

    collected = LoadedBenchmark()
    if stdlib:
        collected.programs += stdlib_programs()
    if problems:
        collected.programs += problem_programs()
        if handwritten:
            written = load_handwritten()
            collected.bugs += written.bugs
            collected.quarantined += [{**q, "file": "evals/problems/handwritten/bugs.toml"} for q in written.quarantined]
    for file in files:
        loaded = load_benchmark_file(Path(file))
        collected.programs += loaded.programs
        collected.bugs += loaded.bugs
        collected.quarantined += [{**q, "file": str(file)} for q in loaded.quarantined]
    return collected
