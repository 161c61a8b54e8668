"""Entry point for multi-GPU launches of a YAML written by `repair train --dry-run`:

    composer -n 8 -m repair.training.train_yaml RUN_DIR/run/train.yaml [key=value ...]
"""

import sys

if __name__ == "__main__":
    from llmfoundry.command_utils import train_from_yaml

    from repair.training.config import _register_progress_callback

    _register_progress_callback()  # the YAML names the `repair_progress` callback
    train_from_yaml(sys.argv[1], sys.argv[2:])
