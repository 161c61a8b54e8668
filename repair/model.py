"""The finetuned repair model in process: an exported Hugging Face checkpoint (and its tokenizer)
behind the `Repairer` protocol, for evaluation and the Triton Python backend.

The model sees exactly what training showed it: the section 3 prompt, cut to `window` lines around
the error line (line numbers kept, so the diff applies to the whole file), then a newline; it answers
with the section 2 `<diff>` block, or (a model trained on `repair.edits`' compact form, recorded in
its `repair_prompt.json`) the section 2b `<edit>` block, which `generate` expands into the `<diff>`
block against the prompt before returning it: every caller sees a numbered line diff.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from repair.dataset import DEFAULT_WINDOW, model_input
from repair.diagnostic import Diagnostic
from repair.edits import STOP_STRINGS, EditGrammar, expand_completion
from repair.lint.tools import ToolFailure
from repair.prompt import ParsedPrompt, PromptError, parse_prompt
from repair.quickcheck import first_clearing, prompt_source

# Generation on a GPU: bf16 weights and bigger batches (evaluation scores hundreds of prompts).
AUTO_DEVICE = "auto"
CPU_BATCH_SIZE, GPU_BATCH_SIZE = 16, 64


def placement(device: str = AUTO_DEVICE) -> tuple[str, str]:
    """(device, torch dtype name) to generate with: "auto" is the first GPU when one is visible,
    else the CPU; on a GPU bf16 (fp16 where bf16 is unsupported), on the CPU fp32 (what training
    exported, and the CPUs here have no fast half-precision matmuls)."""
    import torch

    if device == AUTO_DEVICE:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        return device, "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return device, "float32"


# Written into an export by training: the prompt settings the model was trained with.
PROMPT_SETTINGS_FILE = "repair_prompt.json"
FROM_MODEL = "from_model"
# What the model emits: the numbered line diff itself, or the compact edit (`repair.edits`), which
# training gets from the dataset's diffs through this LLM Foundry preprocessing function.
DIFF_RESPONSE, EDIT_RESPONSE = "diff", "edit"
EDIT_PREPROCESSING_FN = "repair.edits:to_edit_example"


def response_format_of(cfg: Any) -> str:
    """The response form a rendered training config teaches (its train loader's preprocessing)."""
    dataset = cfg["train_loader"]["dataset"]
    return EDIT_RESPONSE if dataset.get("preprocessing_fn") == EDIT_PREPROCESSING_FN else DIFF_RESPONSE


def write_prompt_settings(model_dir: str | Path, window: int | None, response: str = DIFF_RESPONSE) -> None:
    (Path(model_dir) / PROMPT_SETTINGS_FILE).write_text(json.dumps({"window": window, "response": response}))


def _prompt_settings(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / PROMPT_SETTINGS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def read_prompt_window(model_dir: str | Path) -> int | None:
    """The window the model was trained with (`DEFAULT_WINDOW` for an export without the file)."""
    return _prompt_settings(model_dir).get("window", DEFAULT_WINDOW)


def read_response_format(model_dir: str | Path) -> str:
    """What the model emits (`DIFF_RESPONSE` for an export without the setting)."""
    return _prompt_settings(model_dir).get("response", DIFF_RESPONSE)


def _is_diff(completion: str) -> bool:
    from repair.linediff import DiffError, parse_diff

    try:
        parse_diff(completion)
    except DiffError:
        return False
    return True


def _source_of(prompt: str) -> tuple[str, Diagnostic] | None:
    try:
        return prompt_source(parse_prompt(prompt))
    except PromptError:
        return None


class RepairModel:
    """`RepairModel(dir).propose(code, diagnostic)` -> the generated `<diff>` text.

    `temperature` 0 decodes greedily; otherwise sampling with `top_p`/`top_k` (the case study's
    pass@1 settings are temperature 0.1, top_p 0.95, top_k 50). `window` (lines either side of the
    error line; None: whole file) defaults to what the model was trained with. `device` "auto" runs
    on the GPU in bf16 with batches of 64 when one is present, else on the CPU in fp32 with batches
    of 16 (`placement`); `batch_size` overrides the batch. A model that emits the compact edit
    decodes `edit_candidates` answers per prompt (beams when greedy, samples otherwise), constrained
    to well-formed edits of the prompt (`repair.edits.EditGrammar`; `constrained=False` lifts it), and
    returns the first, in the model's order, that passes `repair.quickcheck` (docs/formats.md 2b):
    one proposal is still returned (pass@1).
    """

    name = "finetuned"

    def __init__(
        self,
        model_dir: str | Path,
        device: str = AUTO_DEVICE,
        max_new_tokens: int = 192,
        temperature: float = 0.1,
        top_p: float = 0.95,
        top_k: int = 50,
        window: int | None | str = FROM_MODEL,
        batch_size: int | None = None,
        seed: int = 0,
        edit_candidates: int = 4,
        constrained: bool = True,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteriaList, StopStringCriteria

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{self.model_dir} is not a Hugging Face checkpoint (no config.json)")
        self.device, self.dtype = placement(device)
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k
        self.window = read_prompt_window(self.model_dir) if window == FROM_MODEL else window
        self.response_format = read_response_format(self.model_dir)
        self.candidates = edit_candidates if self.response_format == EDIT_RESPONSE else 1
        self.batch_size = batch_size or (GPU_BATCH_SIZE if self.device.startswith("cuda") else CPU_BATCH_SIZE)
        self.seed = seed
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
        # Batched prompts of different lengths: pad on the left so every row continues at the end.
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(
            str(self.model_dir), torch_dtype=getattr(torch, self.dtype)
        )
        self.model.to(self.device).eval()
        # A fast tokenizer refuses to be used by two threads at once ("Already borrowed"): the
        # evaluation proposes from a thread pool, so one generation at a time.
        self._lock = threading.Lock()
        # Built once: given as `stop_strings`, `generate` rebuilds it from the whole vocabulary on
        # every call (measured 76 ms of a 465 ms single-prompt call).
        self._stop_at_block_end = StoppingCriteriaList([StopStringCriteria(self.tokenizer, list(STOP_STRINGS))])
        self.grammar = (
            EditGrammar([self.tokenizer.decode([i]) for i in range(len(self.tokenizer))])
            if constrained and self.response_format == EDIT_RESPONSE
            else None
        )

    def generate(
        self, prompts: Sequence[str], sources: Sequence[tuple[str, Diagnostic]] | None = None
    ) -> list[str]:
        """One completion per section 3 prompt, cut after `</diff>` (or at end of sequence); an
        `<edit>` completion is expanded into its `<diff>` block (kept as is when it cannot be).

        With several candidates per prompt, the answer is the first, in the model's order, that
        passes `repair.quickcheck` against `sources` (per prompt, the whole file and the target
        diagnostic; without them, the prompt's own lines and `<lsp_error>`), else the first that is
        a diff, else the first."""
        with self._lock:
            candidates = self.candidates_of(prompts)
        checked = None
        if self.candidates > 1:
            try:
                checked = first_clearing(sources or [_source_of(p) for p in prompts], candidates)
            except (ToolFailure, OSError):  # no ruff to ask: the model's order alone decides
                checked = None
        completions = []
        for index, answers in enumerate(candidates):
            best = checked[index] if checked is not None else None
            if best is None:
                best = next((i for i, a in enumerate(answers) if _is_diff(a)), 0) if len(answers) > 1 else 0
            completions.append(answers[best])
        return completions

    def candidates_of(self, prompts: Sequence[str]) -> list[list[str]]:
        """Per prompt, its `candidates` completions in the model's order (beams when greedy, samples
        otherwise), each finished by `_finish`."""
        import torch

        candidates: list[list[str]] = []
        sampling = self.temperature > 0
        torch.manual_seed(self.seed)
        for start in range(0, len(prompts), self.batch_size):
            batch = [model_input(p) for p in prompts[start : start + self.batch_size]]
            encoded = self.tokenizer(
                batch,
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
                return_token_type_ids=False,
            )
            encoded = {k: v.to(self.device) for k, v in encoded.items()}
            with torch.inference_mode():
                output = self.model.generate(
                    **encoded,
                    prefix_allowed_tokens_fn=self._grammar_fn(batch, encoded["input_ids"].shape[1], sampling),
                    max_new_tokens=self.max_new_tokens,
                    do_sample=sampling,
                    temperature=self.temperature if sampling else None,
                    top_p=self.top_p if sampling else None,
                    top_k=self.top_k if sampling else None,
                    num_beams=1 if sampling else self.candidates,
                    num_return_sequences=self.candidates,
                    eos_token_id=self.tokenizer.eos_token_id,
                    pad_token_id=self.tokenizer.pad_token_id,
                    stopping_criteria=self._stop_at_block_end,
                    # LLM Foundry exports with use_cache false (a training setting); decoding without
                    # the KV cache recomputes the whole sequence at every token (measured 23x slower).
                    use_cache=True,
                )
            new_tokens = output[:, encoded["input_ids"].shape[1] :]
            texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            for index, prompt in enumerate(batch):
                candidates.append([
                    self._finish(prompt, text)
                    for text in texts[index * self.candidates : (index + 1) * self.candidates]
                ])
        return candidates

    def _grammar_fn(self, batch: list[str], prompt_tokens: int, sampling: bool):
        """`generate`'s `prefix_allowed_tokens_fn` for a batch: `EditGrammar` against each row's
        prompt (None without a grammar). Sampling expands each prompt into `candidates` rows."""
        if self.grammar is None:
            return None
        grammar = self.grammar
        parsed: list[ParsedPrompt | None] = []
        for text in batch:
            try:
                parsed.append(parse_prompt(text))
            except PromptError:
                parsed.append(None)
        rows_per_prompt = self.candidates if sampling else 1

        def allowed(row: int, ids) -> list[int]:
            prompt = parsed[row // rows_per_prompt]
            if prompt is None:
                return grammar.everything
            return grammar.allowed(prompt, self.tokenizer.decode(ids[prompt_tokens:], skip_special_tokens=True))

        return allowed

    def _finish(self, prompt: str, text: str) -> str:
        """A completion cut after its block, an edit expanded into its diff."""
        ends = [(text.find(tag), tag) for tag in STOP_STRINGS if tag in text]
        if ends:
            end, tag = min(ends)
            text = text[: end + len(tag)]
        return expand_completion(prompt, text) if self.response_format == EDIT_RESPONSE else text

    def prompt(self, code: str, diagnostic: Diagnostic, file_name: str = "main.py") -> str:
        from repair.prompt import render_prompt

        return render_prompt(code, diagnostic, file_name, self.window)

    def propose(
        self,
        code: str,
        diagnostic: Diagnostic,
        file_name: str = "main.py",
        context_files: Mapping[str, str] | None = None,
    ) -> str:
        """The generated text for one diagnostic (other project files are not part of the input)."""
        return self.generate([self.prompt(code, diagnostic, file_name)], [(code, diagnostic)])[0]

    def propose_many(self, items: Sequence[tuple[str, Diagnostic, str]]) -> list[str]:
        """`propose` for many `(code, diagnostic, file_name)` at once, batched."""
        return self.generate(
            [self.prompt(code, diag, name) for code, diag, name in items], [(code, diag) for code, diag, _ in items]
        )
