"""`repair dataset`: the finetuning dataset from the verified repairs in the store, published as a
candidate version exactly as the `repair_dataset` asset does (`repair.dataset.make_dataset`): the
same repairs and code give the same data version, so a version the graph made is reused, not copied."""

from __future__ import annotations

import os

import click


@click.command()
@click.option("--store", default=lambda: os.environ.get("REPAIR_STORE_ROOT", ".data/store"),
              show_default="$REPAIR_STORE_ROOT or .data/store", help="Object store (local path or gs://...).")
@click.option("--day", "days", multiple=True, help="Days of verified repairs to read (repeatable; default: every day).")
@click.option("--benchmark-file", "benchmark_files", multiple=True,
              help="More benchmark files (DebugBench JSON, HumanEvalPack JSONL) kept out of the dataset.")
@click.option("--split-seed", default="", help="Changes which projects land in which split.")
def command(store: str, days: tuple[str, ...], benchmark_files: tuple[str, ...], split_seed: str) -> None:
    """Build, check and publish the dataset; prints the version record. Exits 1 when a blocking check
    fails (the version stays a candidate that training never reads)."""
    import json

    import polars as pl

    from evals.sources import named_benchmark_sources
    from repair import dataset as ds
    from repair.ingest.frames import read_frame
    from repair.object_store import open_store

    object_store = open_store(store)
    prefix = "assets/verified_repairs/"
    keys = sorted(k for k in object_store.list(prefix) if k.endswith(".parquet"))
    if days:
        keys = [k for k in keys if k[len(prefix):].removesuffix(".parquet") in days]
    if not keys:
        raise click.ClickException(f"no verified repairs in {object_store.uri(prefix)}: materialize verified_repairs")
    repairs = pl.concat([read_frame(object_store, k) for k in keys], how="diagonal_relaxed")
    made = ds.make_dataset(object_store, repairs.to_dicts(), named_benchmark_sources(list(benchmark_files)),
                           ds.DatasetSettings(split_seed=split_seed), code_version=ds.CODE_VERSION,
                           log=lambda message: click.echo(message, err=True))  # fmt: skip
    click.echo(json.dumps(made.record.to_dict(), indent=1))
    if not all(check.passed for check in made.checks.values()):
        raise SystemExit(1)
