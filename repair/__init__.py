"""Pure logic of the code-repair lifecycle (no Dagster inside); see docs/architecture.md."""

import os

# LiteLLM (under DSPy) otherwise fetches its model price map from the internet at import time;
# the bundled copy is what a machine without internet has.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
