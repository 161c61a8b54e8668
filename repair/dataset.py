"""Verified repairs -> a clean, leak-free finetuning dataset (issue: dataset and training).

Each example is the section 3 prompt (cut to `DEFAULT_WINDOW` lines around the error line) and
the section 2 `<diff>` block; LLM Foundry appends end of sequence when it tokenises the response.
"""

from __future__ import annotations

# Lines kept either side of the error line in the prompt. Short prompts are what lets a small model
# learn the task: the answer depends on the few lines around the error, and a whole file would
# spend the sequence on text the diff never touches.
DEFAULT_WINDOW = 8


def model_input(prompt: str) -> str:
    """The text a model is conditioned on: the section 3 prompt and a newline, after which the
    `<diff>` block starts (training and inference must agree on this separator)."""
    return prompt if prompt.endswith("\n") else prompt + "\n"
