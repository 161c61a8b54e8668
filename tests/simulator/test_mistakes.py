"""Each mistake kind breaks real code the way users do, and the real language server flags it."""

import random

import pytest

from repair.corpus import iter_source_files, stdlib_dir
from repair.lint import lint_batch
from repair.simulate import DEFAULT_MIX, MISTAKE_KINDS, SimulationConfig
from repair.simulate.mistakes import FINDERS, ProjectFacts, _Segment, commented_out, mutate
from repair.simulate.projects import build_project

SYNTAX_KINDS = {"missing_colon", "unbalanced_bracket", "unclosed_string", "bad_indentation", "assign_for_eq", "keyword_as_name"}
# `&&`, `||`, `!x` and `else if` do not parse; `true`, `false` and `null` are undefined names.
SYNTAX_OR_NAME_KINDS = {"foreign_syntax"}


@pytest.fixture(scope="module")
def examples():
    """For every kind, one project file with the kind applied to one of its segments."""
    rng = random.Random(3)
    sources = list(iter_source_files())
    found: dict[str, tuple[dict[str, str], str, str]] = {}
    for _ in range(300):
        project = build_project(rng.choice(sources), stdlib_dir(), rng, min_lines=30, max_lines=100, multi_file_rate=0.3)
        if project is None:
            continue
        facts = ProjectFacts.of(project)
        for f in project.files:
            for i, segment in enumerate(f.segments):
                for kind, finder in FINDERS.items():
                    if kind in found:
                        continue
                    mutation = finder(_Segment(segment), facts, random.Random(i))
                    if mutation is None or mutation.broken == segment:
                        continue
                    broken = "".join(mutation.broken if j == i else s for j, s in enumerate(f.segments))
                    files = {g.path: g.text for g in project.files}
                    found[kind] = (files, f.path, broken)
        if len(found) == len(FINDERS):
            break
    assert set(found) == set(MISTAKE_KINDS), sorted(set(MISTAKE_KINDS) - set(found))
    return found


def test_every_kind_is_flagged_by_the_language_server(examples):
    kinds = sorted(examples)
    clean = lint_batch([examples[k][0] for k in kinds], [examples[k][1] for k in kinds])
    broken = lint_batch(
        [{**examples[k][0], examples[k][1]: examples[k][2]} for k in kinds], [examples[k][1] for k in kinds]
    )
    for kind, before, after in zip(kinds, clean, broken, strict=True):
        assert before.ok and after.ok, (kind, before.error, after.error)
        new = {(d.source, d.code, d.message) for d in after.diagnostics} - {
            (d.source, d.code, d.message) for d in before.diagnostics
        }
        assert new, f"{kind}: no new diagnostic"
        if kind in SYNTAX_KINDS:
            assert any(code == "syntax" for _, code, _ in new), (kind, new)
        if kind in ("unused_import", "fstring_without_placeholders"):
            assert any(d.has_code_action for d in after.diagnostics if (d.source, d.code, d.message) in new), kind


def test_syntax_kinds_do_not_compile_and_the_others_do(examples):
    for kind, (_, _, broken) in examples.items():
        if kind in SYNTAX_OR_NAME_KINDS:
            continue
        try:
            compile(broken, "main.py", "exec")
            compiles = True
        except SyntaxError:
            compiles = False
        assert compiles == (kind not in SYNTAX_KINDS), kind


FOREIGN_SEGMENT = """def pick(a, b, seen):
    if a and not b or a is not None and b not in seen:
        return True
    elif b:
        return False
    return None
"""


def test_foreign_syntax_spells_operators_and_literals_as_other_languages_do():
    """Every spelling shows up, each once per mutation; `not` of `not in` and `is not` stays."""
    seg = _Segment(FOREIGN_SEGMENT)
    lines = set()
    for seed in range(300):
        mutation = FINDERS["foreign_syntax"](seg, ProjectFacts(), random.Random(seed))
        changed = [
            (old, new) for old, new in zip(FOREIGN_SEGMENT.splitlines(), mutation.broken.splitlines(), strict=True)
            if old != new
        ]
        assert len(changed) == 1 and mutation.broken.splitlines()[mutation.line] == changed[0][1]
        lines.add(changed[0][1].strip())
    assert lines == {
        "if a && not b or a is not None and b not in seen:",
        "if a and not b || a is not None and b not in seen:",
        "if a and not b or a is not None && b not in seen:",
        "if a and !b or a is not None and b not in seen:",
        "if a and not b or a is not null and b not in seen:",
        "return true",
        "return false",
        "return null",
        "else if b:",
    }


def test_compare_for_assign_types_an_assignment_as_a_comparison():
    segment = "def f(self, a):\n    x = a + 1\n    self.cache[a] = x\n    y: int = 2\n    return x\n"
    seg = _Segment(segment)
    broken = {FINDERS["compare_for_assign"](seg, ProjectFacts(), random.Random(seed)).broken for seed in range(50)}
    assert broken == {segment.replace("x = a", "x == a"), segment.replace("] = x", "] == x")}
    assert FINDERS["compare_for_assign"](_Segment("def f(a):\n    return a\n"), ProjectFacts(), random.Random(0)) is None


def test_mix_restricts_the_kinds():
    rng = random.Random(1)
    sources = list(iter_source_files())
    seen = set()
    for _ in range(40):
        project = build_project(rng.choice(sources), stdlib_dir(), rng, min_lines=30, max_lines=100, multi_file_rate=0)
        if project is None:
            continue
        facts = ProjectFacts.of(project)
        for segment in project.files[0].segments:
            m = mutate(segment, {"missing_colon": 1.0, "misspelled_name": 0.0}, facts, rng, import_block=False)
            if m is not None:
                seen.add(m.kind)
    assert seen == {"missing_colon"}


def test_config_rejects_unknown_kinds_and_empty_mixes():
    with pytest.raises(ValueError, match="typo_in_comment"):
        SimulationConfig(day="2026-11-20", sessions=1, mix={**DEFAULT_MIX, "typo_in_comment": 1.0})
    with pytest.raises(ValueError, match="positive weight"):
        SimulationConfig(day="2026-11-20", sessions=1, mix=dict.fromkeys(MISTAKE_KINDS, 0.0))


def test_commenting_out_keeps_the_code_valid():
    code = "def f(x):\n    y = x + 1\n    z = y * 2\n    return z\n"
    assert commented_out(code, 2) == "def f(x):\n    y = x + 1\n    # z = y * 2\n    return z\n"
    assert commented_out(code, 0) is None  # a block header
    assert commented_out("def f():\n    return 1\n", 1) is None  # the only statement of its block


def test_the_user_saves_and_goes_to_a_mistake_before_fixing_it():
    """The IDE events the settle filter reads: a `cursor` move to the mistake's line before each
    fix's first packet, `save`s (and a save before every run), all valid session-log events; and
    they leave the seed's edits as they were (their own random stream)."""
    from repair.linediff import make_diff
    from repair.sessionlog import validate_event
    from repair.simulate import BehaviourModel
    from repair.simulate.partition import simulate_repl

    config = SimulationConfig(day="2026-02-02", sessions=6, seed=5)
    sources = list(iter_source_files())
    sims = [simulate_repl(n, config, sources, stdlib_dir(), 3).simulator for n in range(4)]
    events = [e for sim in sims for e in sim.events]
    assert all(validate_event(e) is None for e in events)
    actions = [e.get("action") for e in events if e["kind"] == "editor"]
    assert actions.count("save") > 0 and actions.count("cursor") > 0
    checked = 0
    for sim in sims:
        for i, event in enumerate(sim.events):
            if event["kind"] == "run":
                assert sim.events[i - 1]["kind"] == "editor" and sim.events[i - 1]["action"] == "save"
        for record in sim.mistakes:
            if record.fixed_version is None or record.kind == "missing_import" or record.outcome != "clean":
                continue
            first = next(
                i for i, e in enumerate(sim.events)
                if e["kind"] == "ot" and e["file"] == record.file and e["version"] == record.broken_version + 1
            )  # fmt: skip
            move = [e for e in sim.events[:first] if e["kind"] == "editor" and e["action"] == "cursor"][-1]
            changed = make_diff(record.before_fix or "", record.clean_fix or "")
            assert move["file"] == record.file and move["line"] + 1 in (changed.removed or changed.touched)
            checked += 1
    assert checked >= 3
    quiet = SimulationConfig(day="2026-02-02", sessions=6, seed=5, behaviour=BehaviourModel(save_rate=0.0))
    again = simulate_repl(0, quiet, sources, stdlib_dir(), 3).simulator
    saves = sum(e["kind"] == "editor" and e["action"] == "save" for e in again.events)
    assert saves == sum(e["kind"] == "run" for e in again.events)  # only the saves before runs are left
    packets = lambda sim: [(e["file"], e["version"], e["ops"]) for e in sim.events if e["kind"] == "ot"]
    assert packets(again) == packets(sims[0])
