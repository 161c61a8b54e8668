"""Group `scaling`: `scaling_curves`, how held-out exact match grows with data and model size.

Run by the `scaling_experiments` job (`jobs/definitions.py`), by hand (it trains several models; it is not part of the
nightly lifecycle). Every arm trains from scratch on a fraction of the approved dataset's training
split, at one of two model sizes, for the same number of batches, and is scored on the held-out
test split (`repair.training.scaling`). The metadata holds the table and both plots.
"""

import json
import tempfile
from pathlib import Path

import dagster as dg
from pydantic import Field

from repair import dataset as ds
from repair import registry
from repair.training import scaling
from resources.object_store import ObjectStoreResource

GROUP = "scaling"


class ScalingConfig(dg.Config):
    fractions: list[float] = Field(default=list(scaling.DEFAULT_FRACTIONS), description="Fractions of the training split each model trains on (seeded subsets; validation and test are never cut).")
    model_sizes_json: str = Field(default=json.dumps(scaling.DEFAULT_MODEL_SIZES), description="The model shapes compared, as JSON: each name maps to a shape (hidden size, layer count, head count and intermediate size; keys as in repair.training.scaling.DEFAULT_MODEL_SIZES), trained from scratch with the cpu-tiny-scratch preset.")
    batches: int = Field(default=200, description="Training batches of every arm: the same budget for each data fraction and model size.")
    heldout_items: int = Field(default=50, description="Test-split items every arm is scored on (exact match, greedy pass@1).")
    seed: int = Field(default=0, description="Seed of the data subsets and of training.")
    work_dir: str = Field(default="", description="Folder for the arms' runs (they resume when run again); empty: a temporary folder.")


@dg.asset(group_name=GROUP, kinds={"pytorch", "huggingface"})
def scaling_curves(
    context: dg.AssetExecutionContext,
    config: ScalingConfig,
    object_store: ObjectStoreResource,
    approved_dataset: registry.VersionRecord,
    tokenizer: registry.VersionRecord,
) -> list[dict]:
    """Held-out exact match of every (data fraction, model size) arm trained with the same budget."""
    from dataclasses import asdict, fields

    from repair.training.plots import markdown_image

    store = object_store.get_store()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(config.work_dir or tmp).resolve()
        data = store.download_dir(f"{approved_dataset.prefix}/jsonl", work / "dataset")
        tokenizer_dir = store.download_dir(tokenizer.prefix, work / "tokenizer")
        try:
            points = scaling.run_scaling(
                data, tokenizer_dir, work,
                fractions=config.fractions, model_sizes=json.loads(config.model_sizes_json),
                batches=config.batches, heldout_items=config.heldout_items,
                window=approved_dataset.details.get("window", ds.DEFAULT_WINDOW), seed=config.seed,
                progress=context.log.info,
            )  # fmt: skip
        except ValueError as exc:
            raise dg.Failure(f"{approved_dataset.label}: {exc}") from exc
    rows = [asdict(p) for p in points]
    plots = scaling.scaling_plots(points)
    context.add_output_metadata({
        "dataset_version": approved_dataset.version,
        "arms": len(rows),
        "batches_per_arm": config.batches,
        "results": dg.MetadataValue.table(
            [dg.TableRecord(row) for row in rows],
            schema=dg.TableSchema(columns=[
                dg.TableColumn(f.name, "string" if f.type == "str" else f.type.split(" ")[0])  # "float | None" -> float
                for f in fields(scaling.ScalingPoint)
            ]),
        ),
        "exact_match_vs_data_size": dg.MetadataValue.md(markdown_image(plots["by_data_size"], "exact match vs training examples")),
        "exact_match_vs_parameters": dg.MetadataValue.md(markdown_image(plots["by_parameters"], "exact match vs parameters")),
    })  # fmt: skip
    return rows
