"""`repair pretrain`: the base repair model, from synthetic repairs of installed third-party code.

repair pretrain --work .data/pretrain --out models/base-cpu --max-duration 6000ba --heldout 300
repair pretrain --work /tmp/p --out /tmp/base --package click --max-files 3 --max-duration 4ba   # a smoke run
repair pretrain --work .data/pyright --corpus-only --max-files 60          # a corpus alone, to join another
repair pretrain --work .data/ruff --no-pyright --with-corpus .data/pyright --out models/base-cpu ...

The corpus is built once into WORK (`corpus.json`, `data/`, `tokenizer/`) and reused; training resumes
from `WORK/run` (Composer autoresume), so running the same command again after an interruption, or
with a larger --max-duration, continues where it stopped. `--with-corpus` trains on other corpora
besides WORK's (`repair.training.pretrain.combine_corpora`): pyright's lint costs ~10x ruff's, so a
large ruff-only corpus can carry a smaller one with pyright's messages and its pyright-only mistakes.
See repair/training/pretrain.py.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from repair.commands.train import _parse_override
from repair.training.pretrain import MAX_FILE_BYTES


@click.command()
@click.option(
    "--work", "work_dir", required=True, type=click.Path(file_okay=False), help="Corpus, checkpoints."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Where the base goes (required unless --corpus-only).",
)
@click.option("--corpus-only", is_flag=True, help="Build (or keep) the corpus in WORK and stop.")
@click.option(
    "--with-corpus",
    "with_corpora",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Also train on the corpus in this work folder (repeatable), e.g. a pyright-linted one beside a --no-pyright WORK.",
)
@click.option(
    "--package",
    "packages",
    multiple=True,
    help="Installed package to mine (repeatable). Default: a fixed list of 80 (repair.training.pretrain.DEFAULT_PACKAGES).",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    help="Mine only this simulator mistake kind (repeatable), e.g. for a corpus of kinds a base lacks. Default: every kind the linters verify.",
)
@click.option("--per-file", default=8, show_default=True, help="Mistakes tried per source file.")
@click.option("--max-files", type=int, help="At most this many files per package.")
@click.option(
    "--pyright/--no-pyright",
    default=True,
    show_default=True,
    help="Lint with basedpyright as well as ruff, as the pipeline does (its messages in the prompts, attribute and argument-count mistakes); --no-pyright: ruff only, ~10x cheaper.",
)
@click.option(
    "--max-file-bytes",
    default=MAX_FILE_BYTES,
    show_default=True,
    help="Skip larger source files (pyright's time grows with the file).",
)
@click.option(
    "--recalled-names/--no-recalled-names",
    default=True,
    show_default=True,
    help="Keep repairs whose fix writes a name the prompt does not show (a definition elsewhere, another module's attribute); --no-recalled-names keeps only fixes the prompt can teach.",
)
@click.option(
    "--names/--no-names",
    default=None,
    help="Show the model the names like the flagged one after its prompt and let it point at them "
    "(docs/formats.md 3b). Default: as the --init-from base was trained; from scratch, on.",
)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--max-duration", default="6000ba", show_default=True, help="In batches (e.g. 6000ba) for an ETA."
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    help="Any LLM Foundry key of cpu-tiny-scratch: --set optimizer.lr=2e-3",
)
@click.option(
    "--heldout",
    type=int,
    default=300,
    show_default=True,
    help="Score exact match on this many of the corpus's test items.",
)
@click.option(
    "--init-from",
    type=click.Path(exists=True, file_okay=False),
    help="Continue from this base's weights and tokenizer (copied into WORK first) instead of a random init.",
)
@click.option(
    "--grow-layers",
    type=click.IntRange(min=1),
    help="Deepen the --init-from base to this many layers first (new layers start as no-ops: "
    "repair.training.grow), for a run that needs more capacity than the base has.",
)
@click.option(
    "--hardware", default="2-core CPU (shared), 1 torch thread", show_default=True, help="For the model card."
)
def command(
    work_dir,
    out_dir,
    corpus_only,
    with_corpora,
    packages,
    kinds,
    per_file,
    max_files,
    pyright,
    max_file_bytes,
    recalled_names,
    names,
    seed,
    max_duration,
    overrides,
    heldout,
    hardware,
    init_from,
    grow_layers,
):
    """Pretrain the base repair model (synthetic repairs of third-party code) and export it with a card."""
    import json
    import resource
    import shutil
    import time

    from repair.model import names_of, response_format_of
    from repair.training import pretrain
    from repair.training.scratch import count_parameters

    if not out_dir and not corpus_only:
        raise click.UsageError("--out is required (where the base goes), unless --corpus-only")
    if corpus_only and with_corpora:
        raise click.UsageError("--with-corpus joins corpora for training: it has no use with --corpus-only")
    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if grow_layers and not init_from:
        raise click.UsageError("--grow-layers deepens the --init-from base: give --init-from")
    init = None
    if init_from:
        # A copy: --out may be the same folder, overwritten at export.
        init = work / "init"
        if not init.is_dir():
            shutil.copytree(Path(init_from).resolve(), init)
            if grow_layers:
                from repair.training.grow import grow_depth

                try:
                    added = grow_depth(init, grow_layers)
                except ValueError as exc:
                    shutil.rmtree(init)
                    raise click.UsageError(str(exc)) from exc
                click.echo(f"deepened {init_from} by {added} layers to {grow_layers} (the new ones start as no-ops)")
    corpus_file = work / "corpus.json"
    if corpus_file.is_file():
        corpus = json.loads(corpus_file.read_text())
        click.echo(f"reusing the corpus in {work} ({corpus['dataset']['kept']} examples)")
    else:
        settings = pretrain.CorpusSettings(
            packages=tuple(packages) or pretrain.DEFAULT_PACKAGES,
            per_file=per_file,
            max_files_per_package=max_files,
            seed=seed,
            linters=("ruff", "pyright") if pyright else ("ruff",),
            max_file_bytes=max_file_bytes,
            kinds=tuple(kinds),
            recalled_names=recalled_names,
        )
        try:
            corpus = pretrain.build_corpus(work, settings, progress=click.echo, tokenizer_from=init)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
    click.echo(
        f"leak check: {json.dumps({k: v for k, v in corpus['leak_check'].items() if k != 'excluded'})}"
    )
    if corpus_only:
        click.echo(f"corpus: {work / 'corpus.json'}")
        return
    out = Path(out_dir).resolve()
    data_dir, combined = work / "data" / "jsonl", None
    if with_corpora:
        try:
            combined = pretrain.combine_corpora(work, [Path(c).resolve() for c in with_corpora])
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
        data_dir = work / "data" / "combined" / "jsonl"
        click.echo(f"training on {len(with_corpora) + 1} corpora: {combined['rows_by_split']} examples")

    total = pretrain.batches_of(max_duration)

    def report(record: dict) -> None:
        click.echo(pretrain.progress_line(record, total))

    cpu_start = (
        resource.getrusage(resource.RUSAGE_SELF).ru_utime
        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    )
    started = time.perf_counter()
    run, cfg = pretrain.train_base(
        work,
        max_duration,
        {**pretrain.names_overrides(names, init), **dict(_parse_override(o) for o in overrides)},
        sink=report,
        init_from=init,
        data_dir=data_dir,
    )
    cpu_s = (
        resource.getrusage(resource.RUSAGE_SELF).ru_utime
        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        - cpu_start
    )
    window = corpus["settings"]["window"]
    pretrain.export_base(run.export_dir, out, window, response_format_of(cfg), names_of(cfg))

    card_heldout = {}
    test_rows = (data_dir / "test.jsonl").read_text().splitlines()
    if heldout and test_rows:  # a tiny corpus may have no test split
        from repair.model import RepairModel
        from repair.training.heldout import exact_match

        rows = [json.loads(line) for line in test_rows]
        model = RepairModel(out, temperature=0.0)
        card_heldout = exact_match(model.generate, [{**r, "rule": "all"} for r in rows[:heldout]])
        click.echo(f"held-out: {json.dumps(card_heldout)}")
    config = json.loads((out / "config.json").read_text())
    ctx = click.get_current_context()
    argv = sys.argv[1:]
    if ctx.info_name in argv:  # `repair pretrain ARGS`: the arguments after the subcommand
        argv = argv[argv.index(ctx.info_name) + 1 :]
    card = {
        "name": out.name,
        "parameters": count_parameters(out),
        "shape": f"{config['num_hidden_layers']} layers x {config['hidden_size']}, {config['num_attention_heads']} heads, MLP {config['intermediate_size']}, tied embeddings",
        "vocab_size": config["vocab_size"],
        "size_bytes": sum(p.stat().st_size for p in out.iterdir() if p.is_file()),
        "corpus": corpus,
        "combined": combined,
        "training": {**run.summary(), "loss_curve": pretrain.loss_curve_points(run.run_losses)},
        "max_duration": max_duration,
        "global_batch_size": cfg.global_train_batch_size,
        "response": response_format_of(cfg),
        "names": names_of(cfg),
        "hardware": hardware,
        "cpu_s": round(cpu_s, 1),
        "started": time.strftime(
            "%Y-%m-%d %H:%M UTC", time.gmtime(time.time() - (time.perf_counter() - started))
        ),
        "heldout": card_heldout,
        "command": f"uv run {ctx.command_path} " + " ".join(shlex.quote(a) for a in argv),
    }
    if init is not None:
        parent = json.loads((init / pretrain.CARD_FILE).read_text())
        card["init_from"] = {
            key: parent.get(key)
            for key in (
                "name",
                "parameters",
                "max_duration",
                "global_batch_size",
                "cpu_s",
                "heldout",
                "command",
                "combined",
                "init_from",
            )
        }
    pretrain.write_model_card(out, card)
    click.echo(f"base model: {out} ({card['size_bytes'] / 1e6:.1f} MB), card: {out / 'README.md'}")
