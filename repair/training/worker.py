"""One rank of a training launch (`repair.training.launch`), started by Composer's launcher:

    composer -n N -m repair.training.worker RUN_DIR/launch.json

Every rank trains; rank 0 records the run (progress file, export, held-out score, `result.json`)
and reports back to whoever launched it: through Dagster Pipes when Dagster launched it (log lines,
and each progress, eval and checkpoint record as a custom message the asset turns into metadata),
otherwise as JSON lines on stdout.
"""

from __future__ import annotations

import faulthandler
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from repair.training.config import is_main_process

Report = Callable[[dict[str, Any]], None]


@contextmanager
def reporter() -> Iterator[Report]:
    """Where rank 0's records go: Dagster Pipes when launched by it, stdout otherwise; other
    ranks report nothing (their records are rank 0's)."""
    if not is_main_process():
        yield lambda record: None
        return
    from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
        yield lambda record: print(json.dumps(record), flush=True)
        return
    with open_dagster_pipes() as pipes:

        def report(record: dict[str, Any]) -> None:
            pipes.log.info(json.dumps(record))
            pipes.report_custom_message(record)

        yield report


def main(argv: list[str]) -> None:
    from repair.training import launch, pipeline

    if len(argv) != 1:
        raise SystemExit("usage: composer -n N -m repair.training.worker RUN_DIR/launch.json")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints where a rank is stuck
    settings, heldout_items, window = launch.read_spec(argv[0])
    with reporter() as report:
        trained = pipeline.train(settings, heldout_items=heldout_items, window=window, sink=report)
        if is_main_process():
            launch.write_result(trained)
            report({"event": "result", "export_dir": str(trained.run.export_dir), **trained.metrics})


if __name__ == "__main__":
    main(sys.argv[1:])
