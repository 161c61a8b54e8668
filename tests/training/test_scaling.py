"""The `scaling_experiments` job (asset `scaling_curves`): every (data fraction, model size) arm trains with real LLM Foundry on the same
budget and is scored on the same held-out items; the job materializes it with a table and two plots.
A tiny budget (2 batches of tiny models): this tests the experiment's plumbing, not its figures."""

import json

import dagster as dg
import pytest

from repair import dataset as ds
from repair.training import scaling
from repair_assets.dataset import approved_dataset, repair_dataset
from repair_assets.scaling import scaling_curves
from repair_assets.training import tokenizer

from .test_assets import _resources, _stub_verified_repairs

TINY_SIZES = {
    "tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64},
    "tiny-wide": {"hidden_size": 64, "num_layers": 1, "num_heads": 2, "intermediate_size": 128},
}


def test_subsets_cut_only_the_training_split_and_are_seeded(repair_rows, tmp_path):
    built = ds.build_dataset(repair_rows)
    ds.write_finetuning_files(built.examples, tmp_path / "data")
    data = tmp_path / "data" / "jsonl"
    train = (data / "train.jsonl").read_text().splitlines()
    half = scaling.subset_data(data, tmp_path / "half", 0.5, seed=3)
    assert half == round(len(train) / 2)
    kept = (tmp_path / "half" / "train.jsonl").read_text().splitlines()
    assert len(kept) == half and set(kept) <= set(train)
    assert scaling.subset_data(data, tmp_path / "again", 0.5, seed=3) == half
    assert (tmp_path / "again" / "train.jsonl").read_text().splitlines() == kept
    for split in ("validation", "test"):
        assert (tmp_path / "half" / f"{split}.jsonl").read_text() == (data / f"{split}.jsonl").read_text()
    with pytest.raises(ValueError, match="not in"):
        scaling.subset_data(data, tmp_path / "none", 0.0, seed=3)


def test_a_dataset_without_a_test_split_is_refused_before_training(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps({"prompt": "p", "response": "r"}) + "\n")
    (tmp_path / "validation.jsonl").write_text("")
    (tmp_path / "test.jsonl").write_text("")
    with pytest.raises(ValueError, match="no test split"):
        scaling.run_scaling(tmp_path, tmp_path, tmp_path / "work", batches=1)


@pytest.mark.slow  # trains four models: 8.7 min on the loaded 2-core machine
def test_the_job_trains_every_arm_with_one_budget_and_plots_both_axes(repair_rows, tmp_path):
    from jobs.definitions import defs

    job = defs.get_job_def("scaling_experiments")
    assert job.asset_layer.executable_asset_keys == {dg.AssetKey("scaling_curves")}

    run_config = {
        "ops": {
            "tokenizer": {"config": {"vocab_size": 600}},
            "scaling_curves": {
                "config": {
                    "fractions": [0.5, 1.0],
                    "model_sizes_json": json.dumps(TINY_SIZES),
                    "batches": 2,
                    "heldout_items": 3,
                    "work_dir": str(tmp_path / "scaling"),
                }
            },
        }
    }
    assets = [
        _stub_verified_repairs(repair_rows),
        repair_dataset,
        approved_dataset,
        tokenizer,
        scaling_curves,
    ]
    result = dg.materialize(assets, resources=_resources(tmp_path), run_config=run_config)
    assert result.success
    rows = result.output_for_node("scaling_curves")
    assert [(r["fraction"], r["model"]) for r in rows] == [
        (0.5, "tiny"), (0.5, "tiny-wide"), (1.0, "tiny"), (1.0, "tiny-wide"),
    ]  # fmt: skip
    assert all(r["batches"] == 2 and r["heldout_items"] == 3 for r in rows)  # one budget, one test set
    assert all(r["exact_match"] is not None and r["well_formed"] is not None for r in rows)
    by_fraction = {r["fraction"]: r["train_examples"] for r in rows}
    assert by_fraction[0.5] < by_fraction[1.0]
    params = {r["model"]: r["parameters"] for r in rows}
    assert params["tiny"] < params["tiny-wide"]
    metadata = result.asset_materializations_for_node("scaling_curves")[0].metadata
    assert len(metadata["results"].value.records) == 4
    for plot in ("exact_match_vs_data_size", "exact_match_vs_parameters"):
        assert "data:image/png;base64," in metadata[plot].value
