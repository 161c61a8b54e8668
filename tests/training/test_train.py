"""The cpu-tiny-scratch preset trains end to end with real LLM Foundry on a small dataset: the loss falls,
the Hugging Face export loads into `RepairModel`, and it registers and comes back from the store."""

import json

import pytest

from repair import dataset as ds
from repair import registry
from repair.model import RepairModel, read_prompt_window, write_prompt_settings
from repair.repairer import Repairer
from repair.training import config as tc
from repair.training.heldout import exact_match
from repair.training.scratch import init_scratch_model, train_tokenizer
from resources.object_store import LocalObjectStore

# Smaller than the preset's model so that the test stays near a minute on 2 shared cores; the
# recipe (loader, optimizer, schedule, precision, export) is the preset's.
TEST_DIMS = {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128}


@pytest.fixture(scope="module")
def trained(repair_rows, tmp_path_factory):
    work = tmp_path_factory.mktemp("train")
    built = ds.build_dataset(repair_rows)
    ds.write_finetuning_files(built.examples, work / "data")
    train_rows = [e for e in built.examples if e["split"] == "train"]
    tokenizer_dir = train_tokenizer(
        (e["prompt"] + e["response"] for e in train_rows), work / "tokenizer", 1024
    )
    model_dir = init_scratch_model(work / "scratch", tokenizer_dir, **TEST_DIMS, max_seq_len=320)
    settings = tc.TrainingSettings(
        preset="cpu-tiny-scratch",
        data_dir=str(work / "data" / "jsonl"),
        model_dir=str(model_dir),
        run_dir=str(work / "run"),
        max_duration="40ba",
        global_batch_size=8,
        microbatch_size=8,
        overrides={
            "scheduler.t_warmup": "5ba",
            "eval_interval": "20ba",
            "save_interval": "20ba",
            "callbacks.hf_checkpointer.save_interval": "40ba",
        },
    )
    records = []
    run = tc.run_training(tc.render_config(settings), sink=records.append)
    return run, records, built, work


def test_loss_falls_and_progress_is_reported(trained):
    run, records, _, _ = trained
    losses = [loss for _, loss in run.losses]
    assert len(losses) >= 4
    assert losses[-1] < losses[0] - 1.0
    assert records == run.progress  # the sink saw every record
    assert any(r["event"] == "eval" for r in records)
    assert run.tokens_per_s and run.tokens_per_s > 0
    assert (run.run_dir / "train.yaml").is_file()
    assert run.export_dir.name == "ba40"


def test_export_loads_as_a_repairer_and_registers(trained, tmp_path):
    run, _, built, _ = trained
    write_prompt_settings(run.export_dir, ds.DEFAULT_WINDOW)
    assert read_prompt_window(run.export_dir) == ds.DEFAULT_WINDOW
    model = RepairModel(run.export_dir, temperature=0.0, max_new_tokens=24)
    assert isinstance(model, Repairer)
    test_rows = [e for e in built.examples if e["split"] == "test"][:4]
    scores = exact_match(model.generate, test_rows)
    assert scores["items"] == 4 and scores["exact_match"] is not None
    # The score is the model's: the references themselves score 1, a well-formed empty diff and a
    # non-diff score 0 (the latter not even well formed).
    assert exact_match(lambda prompts: [e["response"] for e in test_rows], test_rows)["exact_match"] == 1.0
    empty = exact_match(lambda prompts: ["<diff>\n</diff>"] * len(prompts), test_rows)
    assert (empty["exact_match"], empty["well_formed"]) == (0.0, 1.0)
    prose = exact_match(lambda prompts: ["I would rename it."] * len(prompts), test_rows)
    assert (prose["exact_match"], prose["well_formed"]) == (0.0, 0.0)

    store = LocalObjectStore(tmp_path / "store")
    for data_version in ("a", "b"):
        entry = registry.register_model(
            store, run.export_dir, data_version=data_version, dataset_version=7, config_yaml="x: 1\n",
            checks={"loss_decreased": registry.CheckOutcome(True)}, details={"preset": "cpu-tiny"},
        )  # fmt: skip
    assert entry.version == 2 and entry.status == registry.CANDIDATE
    assert [v.version for v in registry.versions(store, registry.MODEL)] == [1, 2]
    assert json.loads(store.read_text("models/code_repair/v2/registry.json"))["parents"] == {"dataset": 7}
    registry.approve(store, entry)
    fetched = registry.fetch_model(store, tmp_path / "fetched")
    assert RepairModel(fetched, max_new_tokens=4).window == ds.DEFAULT_WINDOW
    with pytest.raises(FileNotFoundError, match="no complete version 9"):
        registry.fetch_model(store, tmp_path / "nine", version=9)


def test_autoresume_continues_the_same_run(trained):
    run, _, _, work = trained
    settings = tc.TrainingSettings(
        preset="cpu-tiny-scratch",
        data_dir=str(work / "data" / "jsonl"),
        model_dir=str(work / "scratch"),
        run_dir=str(run.run_dir),
        max_duration="44ba",
        global_batch_size=8,
        microbatch_size=8,
        overrides={
            "save_interval": "20ba",
            "eval_interval": "44ba",
            "callbacks.hf_checkpointer.save_interval": "44ba",
        },
    )
    resumed = tc.run_training(tc.render_config(settings), keep_exports=None)
    batches = [b for b, _ in resumed.losses]
    assert batches and min(batches) > 40  # picked up after the checkpoint at batch 40
    assert resumed.export_dir.name == "ba44"
    # Asked to keep every export (bench_base scores each for its learning curve), it pruned none.
    assert {p.name for p in (run.run_dir / "huggingface").glob("ba*")} == {"ba40", "ba44"}
