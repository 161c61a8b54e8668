"""`repair pretrain`: synthetic repairs mined from installed third-party code with the simulator's
mistakes and verified by ruff, a leak check that catches copies of benchmark and simulator sources,
progress with an ETA, and (slow) the command end to end on a tiny corpus and budget."""

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from repair.corpus import stdlib_dir
from repair.leaks import function_hashes
from repair.training import pretrain
from repair.training.leakcheck import MIN_TOKENS, LeakIndex, check_examples, reference_sources

COPIED = '''
def pick(seq, key, default=None):
    """Return the first item of seq whose key matches, else default."""
    for item in seq:
        if item.get("key") == key and item.get("value") is not None:
            return item["value"] + len(seq) * 2 - 1
    return default
'''


def test_the_standard_library_is_refused_and_packages_resolve():
    with pytest.raises(ValueError, match="standard library"):
        pretrain.package_roots(["json"])
    with pytest.raises(ValueError, match="not an installed package"):
        pretrain.package_roots(["no_such_package_xyz"])
    [(name, root)] = pretrain.package_roots(["click"])
    assert name == "click" and "site-packages" in root.parts and not root.is_relative_to(stdlib_dir())


def test_leak_check_catches_a_copied_function_and_window_but_not_fresh_code():
    index = LeakIndex.build({"benchmark:problem:x": "import os\n" + COPIED})
    # Re-indented, re-spaced, comments changed: still the same normalised tokens.
    disguised = COPIED.replace("    ", "  ").replace("default=None", "default = None") + "# a comment\n"
    kinds = {
        hit["kind"]
        for hit in index.check("class A:\n" + "\n".join("  " + line for line in disguised.split("\n")))
    }
    assert kinds == {"exact_function", "exact_window"}
    fresh = COPIED.replace("key", "name").replace("* 2 - 1", "+ 7")
    assert index.check(fresh) == []
    assert check_examples(index, [("e1", COPIED), ("e2", fresh)])[0]["item"] == "e1"


def test_references_cover_every_benchmark_source_and_the_simulator_files():
    from evals.sources import named_benchmark_sources

    references = reference_sources()
    assert {f"benchmark:{name}" for name in named_benchmark_sources()} <= set(references)
    assert "simulator:json/decoder.py" in references  # the simulator draws on the standard library
    # A real simulator file is found again by the index (a corpus that vendored it would be excluded).
    index = LeakIndex.build({k: v for k, v in references.items() if k == "simulator:json/decoder.py"})
    assert index.check((stdlib_dir() / "json" / "decoder.py").read_text())
    assert function_hashes((stdlib_dir() / "json" / "decoder.py").read_text(), min_tokens=MIN_TOKENS)


def test_simulator_mistakes_in_third_party_code_verify_with_ruff():
    [(package, root)] = pretrain.package_roots(["click"])
    path = root / "termui.py"
    candidates = pretrain.candidates_for_file(
        package, root, path, per_file=6, weights=pretrain.mistake_weights(("ruff",)), rng=random.Random(1)
    )
    assert candidates and all(c.broken != c.original for c in candidates)
    assert {c.project for c in candidates} == {"click.termui"}
    rows, counts = pretrain.verify_candidates(candidates, ("ruff",), progress=lambda _: None)
    assert rows and counts["verified"] == len(rows) <= len(candidates)
    assert counts["candidates"] == len(rows) + sum(
        n for reason, n in counts.items() if reason not in ("candidates", "verified")
    )
    for row in rows:
        assert (
            row["source"] == "ruff"
            and row["diff"].startswith("<diff>")
            and row["teacher"].startswith("synthetic:")
        )
    # Pyright-only kinds are not drawn when pyright does not verify.
    assert not set(pretrain.PYRIGHT_ONLY_KINDS) & set(pretrain.mistake_weights(("ruff",)))
    assert set(pretrain.PYRIGHT_ONLY_KINDS) <= set(pretrain.mistake_weights(("ruff", "pyright")))


def _candidate(original: str, broken: str, kind: str, line: int) -> pretrain.Candidate:
    return pretrain.Candidate("pkg", "pkg.mod", "mod.py", original, broken, kind, line)


ORIGINAL = """import os


class Store:
    def __init__(self, root):
        self.root = root

    def path_of(self, name):
        if name.startswith("/"):
            return name
        return os.path.join(self.root, name)
"""


def test_synthetic_repairs_are_diagnosed_and_verified_as_the_pipeline_does():
    """The prompt's diagnostic is the one the pipeline keeps for the state: pyright's `Expected ":"`
    for a missing colon (ruff's syntax error on that line is dropped, as `repair.reproduce` drops it),
    pyright's attribute error for a misspelled attribute on a known module (ruff sees nothing), and a
    fix that does not remove the diagnostic is rejected by the pipeline's verifier."""
    missing_colon = _candidate(
        ORIGINAL, ORIGINAL.replace('startswith("/"):', 'startswith("/")'), "missing_colon", 8
    )
    attribute = _candidate(
        ORIGINAL, ORIGINAL.replace("os.path.join", "os.path.jion"), "misspelled_attribute", 10
    )
    # An original with an undefined name of its own, misspelled into another: restoring it brings
    # back an error the broken state did not have (the verifier's `new_error`).
    undefined = ORIGINAL.replace("return name\n", "return normalise(name)\n")
    unfixed = _candidate(undefined, undefined.replace("normalise(", "normalize("), "misspelled_name", 9)
    rows, counts = pretrain.verify_candidates(
        [missing_colon, attribute, unfixed], ("ruff", "pyright"), progress=lambda _: None
    )
    by_kind = {row["teacher"]: row for row in rows}
    assert set(by_kind) == {"synthetic:missing_colon", "synthetic:misspelled_attribute"}
    colon = by_kind["synthetic:missing_colon"]
    assert (colon["source"], colon["code"], colon["message"]) == ("pyright", "syntax", 'Expected ":"')
    typo = by_kind["synthetic:misspelled_attribute"]
    assert (typo["source"], typo["code"]) == ("pyright", "reportAttributeAccessIssue") and '"jion"' in typo[
        "message"
    ]
    assert counts["verified"] == 2 and counts["candidates"] == 3 and counts["new_error"] == 1
    assert counts["candidates"] == counts["verified"] + sum(
        n for reason, n in counts.items() if reason not in ("candidates", "verified")
    )
    # The rendered prompt carries pyright's message, as the demo's prompts do.
    from repair.dataset import build_examples

    [example, *_] = build_examples([colon])[0]
    assert '<lsp_error>Expected ":" (pyright syntax)</lsp_error>' in example["prompt"]


def test_the_corpus_lints_with_both_of_the_pipelines_linters_by_default():
    assert pretrain.CorpusSettings().linters == ("ruff", "pyright")
    assert set(pretrain.PYRIGHT_ONLY_KINDS) <= set(
        pretrain.mistake_weights(pretrain.CorpusSettings().linters)
    )


def test_pretraining_removes_only_standard_imports_since_any_other_module_is_a_guess(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text(
        "import yaml\nimport os, sys\nfrom collections import Counter\nfrom . import sibling\n\n\n"
        "def f():\n    return yaml, os, sys, Counter(), sibling\n"
    )
    removed = set()
    for seed in range(40):
        for candidate in pretrain.candidates_for_file(
            "pkg", tmp_path, path, 1, {"missing_import": 1.0}, random.Random(seed)
        ):
            removed |= set(candidate.original.splitlines()) - set(candidate.broken.splitlines())
    assert removed == {"from collections import Counter"}


def test_a_corpus_can_be_mined_for_chosen_kinds_or_without_recalled_names_and_its_command_says_which():
    assert pretrain.mistake_weights(("ruff",), only=("foreign_syntax", "missing_colon")) == {
        "foreign_syntax": 1.0,
        "missing_colon": 1.0,
    }
    # A kind the linters cannot verify, or an unknown one, is refused by name.
    for kind in ("misspelled_method", "typo_in_comment"):
        with pytest.raises(ValueError, match=kind):
            pretrain.mistake_weights(("ruff",), only=(kind,))
    settings = {**pretrain.CorpusSettings(kinds=("foreign_syntax",)).__dict__}
    assert pretrain.corpus_command(Path("w"), settings).endswith("--seed 0 --kind foreign_syntax")
    settings = {**pretrain.CorpusSettings(recalled_names=False).__dict__}
    assert pretrain.corpus_command(Path("w"), settings).endswith("--seed 0 --no-recalled-names")


def test_a_continued_base_trains_with_its_own_tokenizer_not_the_corpus_one(tmp_path):
    """A corpus built by --corpus-only without --init-from trained its own tokenizer into WORK; the
    base's embeddings index the base's vocabulary, so that is the one training must read."""
    work, base = tmp_path / "work", tmp_path / "base"
    continued = pretrain.pretrain_settings(work, "10ba", init_from=base)
    assert continued.tokenizer_dir == continued.model_dir == str(base)
    assert pretrain.pretrain_settings(work, "10ba").tokenizer_dir == str(work / "tokenizer")


def test_progress_line_has_loss_throughput_and_eta():
    line = pretrain.progress_line(
        {"event": "train", "batch": 100, "loss": 1.5, "tokens_per_s": 900.0, "elapsed_s": 120.0}, 400
    )
    assert "batch 100/400" in line and "loss 1.5000" in line and "900 tok/s" in line and "ETA 6.0 min" in line
    assert pretrain.batches_of("6000ba") == 6000 and pretrain.batches_of("2ep") is None


@pytest.mark.slow
def test_pretrain_command_end_to_end_on_a_tiny_corpus(tmp_path):
    from repair.commands.pretrain import command

    work, out = tmp_path / "work", tmp_path / "base"
    args = ["--work", str(work), "--out", str(out), "--package", "click", "--package", "h11",
            "--max-files", "4", "--max-duration", "4ba", "--heldout", "4",
            "--set", "global_train_batch_size=4", "--set", "device_train_microbatch_size=4"]  # fmt: skip
    result = CliRunner().invoke(command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "leak check:" in result.output and "tok/s" in result.output and "ETA" in result.output
    card = json.loads((out / "card.json").read_text())
    assert card["corpus"]["leak_check"]["leaks_in_final_examples"] == 0
    assert card["corpus"]["mistakes"]
    assert card["corpus"]["packages"].keys() == {"click", "h11"} and card["training"]["batches"] == 4
    assert (out / "model.safetensors").stat().st_size < 25e6 and (out / "tokenizer.json").is_file()
    assert "repair pretrain" in (out / "README.md").read_text()
    # The base emits the compact edit (its folder says so, and so does its card), batch as trained.
    assert card["response"] == "edit" and card["global_batch_size"] == 4
    assert json.loads((out / "repair_prompt.json").read_text())["response"] == "edit"
    # Run again: the corpus is reused and Composer resumes from the last checkpoint.
    again = CliRunner().invoke(
        command, [*args[:-6], "--max-duration", "6ba", *args[-4:]], catch_exceptions=False
    )
    assert "reusing the corpus" in again.output
    assert json.loads((out / "card.json").read_text())["training"]["batches"] == 6
    assert Path(out / "repair_prompt.json").is_file()
    # --init-from: a new corpus and run that start from this base's weights and tokenizer (the
    # tokenizer is copied, not retrained; the loss starts near where the base left off).
    scratch = json.loads((out / "card.json").read_text())
    cont, cont_out = tmp_path / "work2", tmp_path / "base2"
    args2 = ["--work", str(cont), "--out", str(cont_out), "--init-from", str(out), "--package", "click", "--package", "h11",
             "--max-files", "4", "--max-duration", "2ba", "--heldout", "0",
             "--set", "global_train_batch_size=4", "--set", "device_train_microbatch_size=4"]  # fmt: skip
    result = CliRunner().invoke(command, args2, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    card = json.loads((cont_out / "card.json").read_text())
    assert card["init_from"]["name"] == "base" and card["init_from"]["command"] == scratch["command"]
    assert (cont / "tokenizer" / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()
    # Nearer where the base ended than where a random init starts (~ln 1024).
    midway = (scratch["training"]["first_loss"] + scratch["training"]["final_loss"]) / 2
    assert card["training"]["first_loss"] < midway


def test_the_card_learning_curve_spans_the_run():
    losses = [(batch, 7.0 - batch / 100) for batch in range(1, 161)]
    curve = pretrain.loss_curve_points(losses, points=8)
    assert len(curve) == 8 and curve[0] == losses[0] and curve[-1] == losses[-1]
    assert [b for b, _ in curve] == sorted(b for b, _ in curve)
    assert pretrain.loss_curve_points(losses[:3]) == losses[:3] and pretrain.loss_curve_points([]) == []


def test_bench_base_measures_copying_of_the_erroneous_line():
    from benchmarks.bench_base import copying

    test = [
        {"response": "<diff>\n-3 x = foo(\n+3 x = foo()\n</diff>"},
        {"response": "<diff>\n-7 if a = 1:\n+7 if a == 1:\n</diff>"},
        {"response": "<diff>\n+1 import os\n</diff>"},  # an insertion: its first line is the `+`
        {"response": "<diff>\n-2 retrun x\n+2 return x\n</diff>"},
    ]
    completions = [
        "<diff>\n-3 x = foo(\n+3 x = bar()\n</diff>",  # copied, edited wrongly
        "<diff>\n-7 if a == 1:\n+7 if a == 1:\n</diff>",  # right line, text paraphrased
        "<diff>\n-11     return  # pragma:\n</diff>",  # the memorised answer of a base that ignores the prompt
        "no diff at all",
    ]
    assert copying(completions, test) == {"line_number_right": 0.5, "first_line_exact": 0.25}


def test_set_overrides_read_exponent_numbers_as_numbers():
    from repair.commands.train import _parse_override

    assert _parse_override("optimizer.lr=2e-3") == ("optimizer.lr", 0.002)
    assert _parse_override("optimizer.lr=3.0e-4") == ("optimizer.lr", 0.0003)
    assert _parse_override("save_interval=100ba") == ("save_interval", "100ba")
    assert _parse_override("model.pretrained=true") == ("model.pretrained", True)
    assert _parse_override("run_name=inf") == ("run_name", "inf")


def test_the_cards_reproduce_block_holds_only_the_commands_of_the_whole_chain():
    card = json.loads((Path(__file__).parents[2] / "models" / "base-cpu" / "card.json").read_text())
    text = pretrain.model_card_markdown(card)
    block = text.split("```")[1].strip().splitlines()
    # (one entry may hold two lines: a run resumed with a longer --max-duration)
    assert block == "\n".join(pretrain.reproduce_commands(card)).splitlines() and len(block) > 1
    assert all(line.startswith("uv run repair pretrain ") for line in block)
    assert "--no-pyright" in text.split("```")[0]  # the older commands predate the pyright default


def _corpus(folder: Path, splits: dict[str, list[str]], window: int = 4, linters=("ruff",)) -> Path:
    """A `repair pretrain` work folder holding a corpus of the given prompts per split."""
    (folder / "data" / "jsonl").mkdir(parents=True)
    for split, prompts in splits.items():
        rows = [{"prompt": p, "response": "<diff>\n</diff>"} for p in prompts]
        (folder / "data" / "jsonl" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    settings = {"packages": ["click"], "per_file": 8, "max_files_per_package": 60, "seed": 1,
                "linters": list(linters), "max_file_bytes": 40000, "window": window}  # fmt: skip
    card = {"files": 3, "settings": settings, "dataset": {"kept": sum(map(len, splits.values()))},
            "rows_by_split": {s: len(p) for s, p in splits.items()}, "mistakes": {"synthetic:missing_colon": 1},
            "leak_check": {"leaks_in_final_examples": 0}}  # fmt: skip
    (folder / "corpus.json").write_text(json.dumps(card))
    return folder


def test_combined_corpora_keep_every_split_and_drop_a_repeated_prompt_from_training(tmp_path):
    work = _corpus(tmp_path / "ruff", {"train": ["a", "b", "in_both"], "validation": ["v"], "test": ["t"]})
    other = _corpus(
        tmp_path / "pyright",
        {"train": ["c", "t"], "validation": ["v2"], "test": ["in_both", "t2"]},
        linters=("ruff", "pyright"),
    )
    combined = pretrain.combine_corpora(work, [other])
    rows = {
        split: {
            json.loads(line)["prompt"]
            for line in (work / "data" / "combined" / "jsonl" / f"{split}.jsonl").open()
        }
        for split in ("train", "validation", "test")
    }
    # A prompt in one corpus's test split and another's training split stays held out only.
    assert rows == {"train": {"a", "b", "c"}, "validation": {"v", "v2"}, "test": {"t", "in_both", "t2"}}
    assert combined["rows_by_split"] == {"train": 3, "validation": 2, "test": 3}
    assert combined["repeated_prompts_dropped"] == 2
    [joined] = combined["corpora"]
    assert joined["linters"] == ["ruff", "pyright"] and joined["examples"] == 5
    # Its command rebuilds it from its settings, alone.
    assert joined["command"].startswith("uv run repair pretrain --work ")
    assert "--corpus-only" in joined["command"] and "--seed 1" in joined["command"]
    assert "--max-files 60" in joined["command"] and "--no-pyright" not in joined["command"]
    assert "--package click" in joined["command"]


def test_combining_refuses_a_folder_without_a_corpus_or_with_another_window(tmp_path):
    work = _corpus(tmp_path / "a", {"train": ["x"]})
    with pytest.raises(ValueError, match="no corpus"):
        pretrain.combine_corpora(work, [tmp_path])
    with pytest.raises(ValueError, match="different windows"):
        pretrain.combine_corpora(work, [_corpus(tmp_path / "b", {"train": ["y"]}, window=8)])


def test_a_card_trained_on_combined_corpora_reproduces_their_corpus_commands_first():
    card = json.loads((Path(__file__).parents[2] / "models" / "base-cpu" / "card.json").read_text())
    corpus_cmd = "uv run repair pretrain --work .data/pyright --corpus-only --per-file 8"
    card = {**card, "combined": {"rows_by_split": {"train": 9, "validation": 1, "test": 2}, "repeated_prompts_dropped": 0,
            "corpora": [{"work": ".data/pyright", "files": 3, "linters": ["ruff", "pyright"], "examples": 12,
                         "leaks_in_final_examples": 0, "command": corpus_cmd}]}}  # fmt: skip
    commands = pretrain.reproduce_commands(card)
    assert commands[-3:] == [
        corpus_cmd,
        pretrain.corpus_command(Path(".data/pretrain23"), card["corpus"]["settings"]),
        card["command"],
    ]
    text = pretrain.model_card_markdown(card)
    assert "| trained also on | `.data/pyright`: 12 examples" in text and "combined test split" in text


def test_a_card_reproduces_the_corpus_its_run_kept_in_its_work_folder():
    """A run keeps the corpus already in WORK (built by an earlier `--corpus-only` with its own seed
    and limits), which its own command does not say: the card builds that corpus first."""
    card = json.loads((Path(__file__).parents[2] / "models" / "base-cpu" / "card.json").read_text())
    settings = {**card["corpus"]["settings"], "seed": 7, "max_files_per_package": 60, "kinds": []}
    card = {**card, "init_from": None, "combined": None, "corpus": {**card["corpus"], "settings": settings},
            "command": "uv run repair pretrain --work .data/w --out models/base-cpu --max-duration 10ba"}  # fmt: skip
    assert pretrain.reproduce_commands(card) == [
        "uv run repair pretrain --work .data/w --corpus-only --per-file 8 --max-files 60 --max-file-bytes 40000 --seed 7",
        card["command"],
    ]
    # A corpus an earlier run of the chain already kept (`.data/pretrain18`, trained on 2026-12-04 and
    # combined again since) is built before that run, not after it.
    shipped = pretrain.reproduce_commands(json.loads((Path(__file__).parents[2] / "models" / "base-cpu" / "card.json").read_text()))
    built = next(i for i, c in enumerate(shipped) if c.startswith("uv run repair pretrain --work .data/pretrain18 --corpus-only"))
    assert built < next(i for i, c in enumerate(shipped) if c.startswith("uv run repair pretrain --work .data/pretrain18 --out"))


def test_the_card_counts_the_repairs_dropped_for_a_name_the_prompt_does_not_show():
    card = json.loads((Path(__file__).parents[2] / "models" / "base-cpu" / "card.json").read_text())
    dataset = {**card["corpus"]["dataset"], "target_name_not_in_prompt": 770}
    text = pretrain.model_card_markdown({**card, "corpus": {**card["corpus"], "dataset": dataset}})
    assert "770 whose fix writes a name the prompt does not show dropped" in text
    assert "writes a name" not in pretrain.model_card_markdown(card)  # the shipped corpus dropped none


def test_the_card_says_when_the_base_reads_names_and_points_at_them():
    card = json.loads((Path(__file__).parents[2] / "models" / "base-cpu" / "card.json").read_text())
    assert card["names"]  # the shipped base (docs/formats.md 3b)
    assert "points at them with `$K`" in pretrain.model_card_markdown(card)
    assert "points at them" not in pretrain.model_card_markdown({**card, "names": False})


def test_pretrain_wants_out_unless_it_only_builds_the_corpus(tmp_path):
    from repair.commands.pretrain import command

    result = CliRunner().invoke(command, ["--work", str(tmp_path / "w")])
    assert result.exit_code == 2 and "--out is required" in result.output
    other = _corpus(tmp_path / "o", {"train": ["x"]})
    result = CliRunner().invoke(
        command, ["--work", str(tmp_path / "w"), "--corpus-only", "--with-corpus", str(other)]
    )
    assert result.exit_code == 2 and "no use with --corpus-only" in result.output
    # An already built corpus: --corpus-only reports it and trains nothing.
    result = CliRunner().invoke(command, ["--work", str(other), "--corpus-only"])
    assert result.exit_code == 0 and "corpus:" in result.output and not (other / "run").exists()
