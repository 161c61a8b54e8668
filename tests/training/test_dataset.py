"""The dataset build: examples, split by project, StarCoder-style near-duplicate removal within and
across splits and against benchmark sources, the leak rescan, and the published files."""

import json

import pytest

from repair import dataset as ds
from repair import registry
from repair.diagnostic import Diagnostic
from repair.linediff import parse_diff
from repair.object_store import LocalObjectStore
from repair.prompt import diff_in_window, names_not_shown, parse_prompt, render_prompt


def test_examples_are_section_3_prompts_and_section_2_diffs(repair_rows):
    built = ds.build_dataset(repair_rows)
    assert built.examples
    for example in built.examples:
        parsed = parse_prompt(example["prompt"])
        assert example["prompt"].endswith("</error_line>\n")
        assert len(parsed.lines) <= 2 * ds.DEFAULT_WINDOW + 1
        assert parsed.error_line in [n for n, _ in parsed.lines]
        assert not parse_diff(example["response"]).is_empty
        assert example["response"].startswith("<diff>\n") and example["response"].endswith("</diff>")


def test_no_project_in_two_splits_and_counts_reconcile(repair_rows):
    built = ds.build_dataset(repair_rows)
    splits_of = {}
    for example in built.examples:
        splits_of.setdefault(example["repl"], set()).add(example["split"])
    assert all(len(splits) == 1 for splits in splits_of.values())
    assert {s for splits in splits_of.values() for s in splits} == set(ds.SPLITS)
    counts = built.counts
    assert counts["rows"] == len(repair_rows)
    assert counts["kept"] + sum(counts["removed"].values()) == counts["examples_before_dedup"]
    assert sum(counts["by_split"].values()) == counts["kept"]


def test_split_of_is_stable_and_checks_fractions():
    assert ds.split_of("proj-1") == ds.split_of("proj-1")
    shares = [ds.split_of(f"p{i}") for i in range(2000)]
    assert 0.75 < shares.count("train") / 2000 < 0.85
    with pytest.raises(ValueError, match="summing to 1"):
        ds.split_of("p", (0.5, 0.5, 0.5))


def test_bad_rows_are_quarantined_with_reasons(repair_rows):
    good = dict(repair_rows[0])
    bad_diff = {**good, "diagnostic_id": "bad-diff", "diff": "no diff here"}
    bad_line = {**good, "diagnostic_id": "bad-line", "start_line": 10_000, "end_line": 10_000}
    missing = {k: v for k, v in good.items() if k != "message"} | {"diagnostic_id": "missing"}
    rejected = {**good, "diagnostic_id": "rejected", "verdict": "hallucinated_line"}
    built = ds.build_dataset([good, bad_diff, bad_line, missing, rejected])
    reasons = {q["diagnostic_id"]: q["reason"] for q in built.quarantined}
    assert "no <diff>" in reasons["bad-diff"]
    assert "outside" in reasons["bad-line"]
    assert "message" in reasons["missing"]
    assert built.counts["not_accepted"] == 1 and built.counts["kept"] == 1


def _planted(example: dict, split: str, diagnostic_id: str, edit: tuple[str, str] | None = None) -> dict:
    prompt = example["prompt"] if edit is None else example["prompt"].replace(*edit, 1)
    return {
        **example,
        "prompt": prompt,
        "split": split,
        "diagnostic_id": diagnostic_id,
        "repl": f"repl-{split}",
    }


def test_dedup_finds_planted_near_duplicates_and_leaks(repair_rows):
    examples, _, _ = ds.build_examples(repair_rows)
    base = max(examples, key=lambda e: len(e["prompt"]))
    code = parse_prompt(base["prompt"]).code_excerpt
    one_token = code.split()[len(code.split()) // 2]
    planted = [
        _planted(base, "train", "original"),
        _planted(base, "train", "near-copy-in-train", (one_token, one_token + "x")),
        _planted(base, "test", "copy-in-test"),
    ]
    other = [{**e, "split": "train"} for e in examples if e["diagnostic_id"] != base["diagnostic_id"]][:30]
    # A benchmark whose source contains the code of another training example: a leak.
    leaked = other[0]
    benchmark = ["def unrelated():\n    return 1\n" * 3, parse_prompt(leaked["prompt"]).code_excerpt]

    leaks = ds.find_leaks(planted + other, benchmark)
    assert {leak["item"] for leak in leaks if leak["kind"] == "train_near_held_out"} >= {
        "original", "near-copy-in-train", leaked["diagnostic_id"]
    }  # fmt: skip

    result = ds.deduplicate(planted + other, benchmark)
    reasons = {r["diagnostic_id"]: r["reason"] for r in result.removed}
    assert reasons[leaked["diagnostic_id"]] == "benchmark_leak"
    assert reasons["original"] == "near_duplicate_of_test"
    assert reasons["near-copy-in-train"] == "near_duplicate_of_test"
    assert "copy-in-test" not in reasons
    assert result.counts["near_duplicate_of_test"] == 2
    assert ds.find_leaks(result.kept, benchmark) == []


def test_within_split_near_duplicates_keep_the_first(repair_rows):
    examples, _, _ = ds.build_examples(repair_rows)
    base = {**examples[0], "split": "train"}
    copy = {**base, "diagnostic_id": "copy"}
    far = {**examples[-1], "split": "train"}
    result = ds.deduplicate([base, copy, far])
    assert [r["diagnostic_id"] for r in result.removed] == ["copy"]
    assert result.removed[0]["reason"] == "near_duplicate_within_train"
    assert result.removed[0]["near"] == base["diagnostic_id"]


def test_threshold_is_validated():
    with pytest.raises(ValueError, match="between 0 and 1"):
        ds.NearDuplicateIndex(threshold=1.5)


def test_publish_writes_finetuning_jsonl_mds_and_versions(repair_rows, tmp_path):
    from streaming import StreamingDataset

    store = LocalObjectStore(tmp_path / "store")
    built = ds.build_dataset(repair_rows)
    card = ds.dataset_card(built, [10, 20, 30], 25)
    checks = {"no_leaks": registry.CheckOutcome(True)}
    first = ds.publish_dataset(store, built, card, tmp_path / "work1", data_version="a", checks=checks)
    again = ds.publish_dataset(store, built, card, tmp_path / "work1b", data_version="a", checks=checks)
    second = ds.publish_dataset(store, built, card, tmp_path / "work2", data_version="b", checks=checks)
    assert (first.version, again.version, second.version) == (1, 1, 2)  # same content: same version
    assert second.status == registry.CANDIDATE and second.checks == checks
    with pytest.raises(FileNotFoundError, match="no approved dataset"):
        registry.latest_approved(store, registry.DATASET)
    lines = store.read_text(f"{second.prefix}/jsonl/train.jsonl").splitlines()
    assert len(lines) == built.counts["by_split"]["train"]
    assert set(json.loads(lines[0])) == {"prompt", "response"}
    assert json.loads(store.read_text(f"{second.prefix}/card.json"))["token_length"]["over_25"] == 1
    local = store.download_dir(f"{second.prefix}/mds/train", tmp_path / "mds")
    mds = StreamingDataset(local=str(local), shuffle=False, batch_size=1)
    assert mds.num_samples == len(lines) and mds[0]["prompt"] == json.loads(lines[0])["prompt"]


def test_the_card_counts_settled_rows_and_agreeing_targets_per_split(repair_rows):
    """Issue 20 item 4: per split, rows from settled diagnostics and targets that agree with the
    simulator's ground truth (among those it covers)."""
    rows = [
        {**row, "settled_by": "save" if i % 2 else None, "agrees_with_truth": (True, False, None)[i % 3]}
        for i, row in enumerate(repair_rows)
    ]
    built = ds.build_dataset(rows)
    card = ds.dataset_card(built)
    by_id = {row["diagnostic_id"]: row for row in rows}
    for split, figures in card["targets_by_split"].items():
        mine = [by_id[e["diagnostic_id"]] for e in built.examples if e["split"] == split]
        assert figures["rows"] == len(mine)
        assert figures["settled"] == sum(r["settled_by"] is not None for r in mine)
        assert figures["with_truth"] == sum(r["agrees_with_truth"] is not None for r in mine)
        assert figures["agrees_with_truth"] == sum(r["agrees_with_truth"] is True for r in mine)
    assert sum(f["rows"] for f in card["targets_by_split"].values()) == len(built.examples) > 0


def _import_repair(good: dict, fix: str = "import yaml as json") -> dict:
    """`good`'s file with `json` used deep inside and its fix `fix`, an import on line 1: far outside
    the prompt's window of lines around the error."""
    lines = good["content"].splitlines(keepends=True)
    error_line = len(lines) - 1
    content = "".join(lines[:-1]) + "json.dumps(1)\n"
    return {
        **good,
        "content": content,
        "source": "ruff",
        "code": "F821",
        "message": "Undefined name `json`",
        "start_line": error_line,
        "start_character": 0,
        "end_line": error_line,
        "end_character": 4,
        "diff": f"<diff>\n+1 {fix}\n</diff>",
        "diagnostic_id": f"import-at-top: {fix}",
    }


def test_targets_outside_the_prompt_window_are_dropped_and_counted_when_asked(repair_rows):
    good = repair_rows[0]
    assert len(good["content"].splitlines()) > 2 * ds.DEFAULT_WINDOW + 2
    rows = [good, _import_repair(good)]
    assert ds.build_dataset(rows).counts["kept"] == 2  # the pipeline's default keeps them
    built = ds.build_dataset(rows, targets_in_window=True)
    assert [e["diagnostic_id"] for e in built.examples] == [good["diagnostic_id"]]
    assert built.counts["target_outside_window"] == 1 and built.counts["rows"] == 2


def test_a_standard_import_outside_the_window_is_kept_as_the_edit_writes_it_anywhere(repair_rows):
    """The edit's `+^` row places an import wherever the file's imports are, and a standard module
    is knowledge: such a target is not a guess; a third-party module (above) still is."""
    built = ds.build_dataset([_import_repair(repair_rows[0], "import json")], targets_in_window=True)
    assert built.counts["target_outside_window"] == 0 and len(built.examples) == 1


def _misspelt_repair(diagnostic_id: str, defined: str, written: str, fixed: str) -> dict:
    """A file that defines `defined`, then uses `written` (undefined); the fix writes `fixed`."""
    content = f"{defined} = 2\nprint({written})\n"
    return {
        "diagnostic_id": diagnostic_id,
        "repl": f"proj-{diagnostic_id}",
        "teacher": "synthetic",
        "verdict": "accepted",
        "content": content,
        "file": "main.py",
        "source": "pyright",
        "code": "reportUndefinedVariable",
        "message": f'"{written}" is not defined',
        "start_line": 2,
        "start_character": 6,
        "end_line": 2,
        "end_character": 6 + len(written),
        "diff": f"<diff>\n-2\n+2 print({fixed})\n</diff>",
    }


def test_fixes_writing_a_name_the_prompt_does_not_show_are_dropped_and_counted_when_asked():
    copied = _misspelt_repair("copied", "radius", "raduis", "radius")
    recalled = _misspelt_repair("recalled", "radius", "widht", "width")
    assert ds.build_dataset([copied, recalled]).counts["kept"] == 2  # kept unless asked
    built = ds.build_dataset([copied, recalled], names_in_prompt=True)
    assert [e["diagnostic_id"] for e in built.examples] == ["copied"]
    assert built.counts["target_name_not_in_prompt"] == 1 and built.counts["rows"] == 2


def test_names_not_shown_are_the_added_identifiers_outside_the_prompt_less_builtins_and_keywords():
    code = "import os\nradius = 2\nprint(raduis)\n"
    prompt = parse_prompt(render_prompt(code, Diagnostic("pyright", "x", "error", "m", 3, 6, 3, 12), "a.py", 5))
    assert names_not_shown(prompt, parse_diff("<diff>\n-3\n+3 print(radius)\n</diff>")) == set()
    assert names_not_shown(prompt, parse_diff("<diff>\n-3\n+3 print(len(os), True, None)\n</diff>")) == set()
    assert names_not_shown(prompt, parse_diff("<diff>\n-3\n+3 print(os.path.width)\n</diff>")) == {"path", "width"}
    # A standard import's module is knowledge; the name it binds must still be shown.
    assert names_not_shown(prompt, parse_diff("<diff>\n+1 from os.path import radius\n</diff>")) == set()
    assert names_not_shown(prompt, parse_diff("<diff>\n+1 from os.path import width\n</diff>")) == {"width"}
    assert names_not_shown(prompt, parse_diff("<diff>\n+1 from yaml import radius\n</diff>")) == {"yaml"}


def test_a_diff_is_in_the_window_when_it_edits_shown_lines_or_appends_right_after_them():
    code = "".join(f"x{i} = {i}\n" for i in range(30))
    prompt = parse_prompt(
        render_prompt(code, Diagnostic("ruff", "F821", "error", "m", 15, 0, 15, 1), "a.py", 2)
    )
    shown = [n for n, _ in prompt.lines]
    assert shown == [14, 15, 16, 17, 18]
    inside = ["-16\n+16 y = 1", "+14 import os", "+19 pass", "-18", "+1 import os", "+3 from math import pi"]
    outside = ["+1 import yaml", "+1 x = 1", "-13", "+20 pass", "-16\n-19", "+1 from . import os", "+1 from __future__ import annotations"]
    for ops in inside:
        assert diff_in_window(prompt, parse_diff(f"<diff>\n{ops}\n</diff>")), ops
    for ops in outside:
        assert not diff_in_window(prompt, parse_diff(f"<diff>\n{ops}\n</diff>")), ops
