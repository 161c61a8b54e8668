"""Versions in the lineage graph: every asset has a code version (its own, or its module's source
hash), and the stages pass typed version records, not pointers."""

from __future__ import annotations

from jobs.definitions import build_definitions
from repair import registry


def test_every_asset_has_a_code_version():
    graph = build_definitions("local").resolve_asset_graph()
    missing = sorted(key.to_user_string() for key in graph.get_all_asset_keys() if not graph.get(key).code_version)
    assert missing == []


def test_training_and_deployment_consume_approved_records():
    graph = build_definitions("local").resolve_asset_graph()

    def parents(name: str) -> set[str]:
        (key,) = [k for k in graph.get_all_asset_keys() if k.to_user_string() == name]
        return {p.to_user_string() for p in graph.get(key).parent_keys}

    assert parents("tokenizer") == {"approved_dataset"}
    assert parents("finetuned_model") == {"approved_dataset", "tokenizer"}
    assert parents("approved_model") == {"finetuned_model"}
    assert "approved_model" in parents("model_evaluation") and "finetuned_model" not in parents("model_evaluation")
    assert parents("triton_deployment") == {"approved_model", "deployment_gate"}
    assert registry.VersionRecord.from_dict(
        registry.VersionRecord("model", 1, "approved", "d", "p", "u", "t").to_dict()
    ).status == registry.APPROVED


def test_a_stage_code_version_follows_the_library_code_it_runs(tmp_path):
    """Assets are thin: the logic is in `repair/` and `evals/`. Editing a library module a stage
    reaches through its imports (directly or not) gives the stage a new code version, so the UI marks
    what it made stale; editing a module it never reaches does not."""
    import shutil
    from pathlib import Path

    from jobs.definitions import stage_code_version

    root = Path(__file__).resolve().parents[2]
    for package in ("repair_assets", "repair", "evals"):
        shutil.copytree(root / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    before = stage_code_version("repair_assets.ingest", tmp_path)
    assert before == stage_code_version("repair_assets.ingest", root)
    with (tmp_path / "repair" / "cli.py").open("a") as unrelated:  # the CLI: no stage imports it
        unrelated.write("\n# edited\n")
    assert stage_code_version("repair_assets.ingest", tmp_path) == before
    with (tmp_path / "repair" / "ot.py").open("a") as replay:  # reached through repair.ingest.states
        replay.write("\n# edited\n")
    assert stage_code_version("repair_assets.ingest", tmp_path) != before
