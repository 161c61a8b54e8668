"""Training outside the calling process: one command for one process or N, through Composer's
launcher, so that the orchestrator only launches and listens.

    composer -n N -m repair.training.worker RUN_DIR/launch.json

`launch` writes the run's spec (`launch.json`: the settings and what to do after training), runs
that command through a `runner` (the `finetuned_model` asset passes Dagster Pipes'
`PipesSubprocessClient`; `repair train` runs it as a plain subprocess) and reads back what the
worker's rank 0 wrote (`result.json`): the export, this attempt's progress and the held-out score.
Every rank trains; `global_train_batch_size` is divided across them (LLM Foundry), so N processes
take the same optimizer steps on the same global batches as one; on CPU they talk over gloo.
A launch that dies (kill -9 included) leaves its checkpoints: the next launch of the same run folder
resumes from the newest readable one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from repair.training import config as training_config
from repair.training.pipeline import TrainedModel

SPEC_FILE = "launch.json"
RESULT_FILE = "result.json"
WORKER_MODULE = "repair.training.worker"

# runner(command, env) runs the command to its end and raises when it fails.
Runner = Callable[[Sequence[str], Mapping[str, str]], None]


class TrainingLaunchFailed(RuntimeError):
    """The launched training exited without a result (killed, crashed, or a rank failed)."""


def composer_launcher() -> list[str]:
    """Composer's launcher (`composer`) of this interpreter's environment: its ranks run
    `sys.executable`, so the environment is the caller's."""
    script = Path(sys.executable).with_name("composer")
    if script.is_file():
        return [str(script)]
    found = shutil.which("composer")
    return [found] if found else [sys.executable, "-m", "composer.cli.launcher"]


def training_command(spec_path: str | Path, processes: int = 1) -> list[str]:
    """The one command that trains a spec on `processes` ranks of this node (`-n 1` included)."""
    if processes < 1:
        raise ValueError(f"processes must be at least 1, not {processes}")
    spec_path = Path(spec_path)
    # Ranks other than 0 write their output (stdout and stderr) beside the spec instead of discarding it.
    log = str(spec_path.parent / "rank{rank}.log")
    launcher = [*composer_launcher(), "-n", str(processes), "--stdout", log, "--stderr", log]
    return [*launcher, "-m", WORKER_MODULE, str(spec_path)]


def write_spec(
    settings: training_config.TrainingSettings, *, heldout_items: int = 0, window: int | None = None
) -> Path:
    run_dir = Path(settings.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / SPEC_FILE
    spec = {"settings": asdict(settings), "heldout_items": heldout_items, "window": window}
    path.write_text(json.dumps(spec, indent=1))
    return path


def read_spec(path: str | Path) -> tuple[training_config.TrainingSettings, int, int | None]:
    spec = json.loads(Path(path).read_text())
    return training_config.TrainingSettings(**spec["settings"]), spec["heldout_items"], spec["window"]


def write_result(trained: TrainedModel) -> Path:
    """What the parent reads back (rank 0 writes it last, so its presence means a finished run)."""
    run = trained.run
    result = {
        "export_dir": str(run.export_dir),
        "progress": run.progress,
        "wall_s": run.wall_s,
        "heldout": trained.heldout,
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
    }
    path = run.run_dir / RESULT_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)
    return path


def subprocess_runner(command: Sequence[str], env: Mapping[str, str]) -> None:
    """Runs the command with this process's environment plus `env`; raises when it fails."""
    completed = subprocess.run(list(command), env={**os.environ, **env}, check=False)
    if completed.returncode != 0:
        raise TrainingLaunchFailed(f"training exited with code {completed.returncode}: {' '.join(command)}")


def launch(
    settings: training_config.TrainingSettings,
    *,
    processes: int = 1,
    heldout_items: int = 0,
    window: int | None = None,
    runner: Runner = subprocess_runner,
    env: Mapping[str, str] | None = None,
) -> TrainedModel:
    """Validates the config here (a bad one fails before anything starts), launches the training
    on `processes` ranks through `runner` and returns what it trained."""
    cfg = training_config.render_config(settings)
    training_config.validate_config(cfg)
    run_dir = Path(settings.run_dir)
    result_path = run_dir / RESULT_FILE
    result_path.unlink(missing_ok=True)  # an earlier attempt's must not pass for this one's
    spec = write_spec(settings, heldout_items=heldout_items, window=window)
    runner(training_command(spec, processes), dict(env or {}))
    if not result_path.is_file():
        raise TrainingLaunchFailed(f"training finished without writing {result_path}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    run = training_config.TrainingRun(
        run_dir,
        Path(result["export_dir"]),
        result["progress"],
        result["wall_s"],
        history=training_config.read_progress(run_dir / training_config.PROGRESS_FILE),
        world_size=result["world_size"],
    )
    return TrainedModel(cfg, run, result["heldout"])
