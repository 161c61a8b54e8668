"""The finetuned repair model in process: an exported Hugging Face checkpoint (and its tokenizer)
behind the `Repairer` protocol, for evaluation and the Triton Python backend.

The model sees exactly what training showed it: the section 3 prompt, cut to `window` lines around
the error line (line numbers kept, so the diff applies to the whole file), then a newline; it answers
with the section 2 `<diff>` block, or (a model trained on `repair.edits`' compact form, recorded in
its `repair_prompt.json`) the section 2b `<edit>` block, which `generate` expands into the `<diff>`
block against the prompt before returning it: every caller sees a numbered line diff.
"""

from __future__ import annotations

import copy
import json
import math
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from repair.dataset import DEFAULT_WINDOW, model_input
from repair.diagnostic import Diagnostic
from repair.edits import (
    CLOSE_EDIT,
    OPEN_EDIT,
    STOP_STRINGS,
    EditGrammar,
    edit_headers,
    expand_completion,
    resolve_names,
)
from repair.hints import flagged_name, similar_names
from repair.linediff import CLOSE_TAG, OPEN_TAG
from repair.lint.tools import ToolFailure
from repair.prompt import ParsedPrompt, PromptError, import_line, parse_prompt
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
# training gets from the dataset's diffs through this LLM Foundry preprocessing function (the second
# also shows the names like the flagged one after the prompt, `repair.hints`).
DIFF_RESPONSE, EDIT_RESPONSE = "diff", "edit"
EDIT_PREPROCESSING_FN = "repair.edits:to_edit_example"
NAMED_EDIT_PREPROCESSING_FN = "repair.edits:to_named_edit_example"


def _preprocessing_of(cfg: Any) -> str | None:
    return cfg["train_loader"]["dataset"].get("preprocessing_fn")


def response_format_of(cfg: Any) -> str:
    """The response form a rendered training config teaches (its train loader's preprocessing)."""
    edit = _preprocessing_of(cfg) in (EDIT_PREPROCESSING_FN, NAMED_EDIT_PREPROCESSING_FN)
    return EDIT_RESPONSE if edit else DIFF_RESPONSE


def names_of(cfg: Any) -> bool:
    """Whether a rendered training config shows the model the names like the flagged one."""
    return _preprocessing_of(cfg) == NAMED_EDIT_PREPROCESSING_FN


def write_prompt_settings(
    model_dir: str | Path, window: int | None, response: str = DIFF_RESPONSE, names: bool = False
) -> None:
    settings = {"window": window, "response": response, "names": names}
    (Path(model_dir) / PROMPT_SETTINGS_FILE).write_text(json.dumps(settings))


def _prompt_settings(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / PROMPT_SETTINGS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def read_prompt_window(model_dir: str | Path) -> int | None:
    """The window the model was trained with (`DEFAULT_WINDOW` for an export without the file)."""
    return _prompt_settings(model_dir).get("window", DEFAULT_WINDOW)


def read_response_format(model_dir: str | Path) -> str:
    """What the model emits (`DIFF_RESPONSE` for an export without the setting)."""
    return _prompt_settings(model_dir).get("response", DIFF_RESPONSE)


def read_prompt_names(model_dir: str | Path) -> bool:
    """Whether the model reads the names like the flagged one after its prompt (False for an export
    without the setting)."""
    return _prompt_settings(model_dir).get("names", False)


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


EDIT_OPENING = OPEN_EDIT + "\n"
# The answer when no candidate passes the quick check: an empty diff, which the service reports as
# status `no_fix` (docs/formats.md section 4).
NO_FIX = f"{OPEN_TAG}\n{CLOSE_TAG}"


def _closing_begun(text: str) -> bool:
    """An edit whose last row has begun its closing tag: under `EditGrammar`, a row that starts
    with `<` can only become `</edit>`, so the block is complete without decoding the rest."""
    if not text.startswith(EDIT_OPENING):
        return False
    row = text[text.rfind("\n") + 1 :]
    return bool(row) and CLOSE_EDIT.startswith(row)


def _edit_done(text: str) -> bool:
    """A completion is finished once it holds a closing tag or its edit has begun `</edit>`."""
    return _closing_begun(text) or any(tag in text for tag in STOP_STRINGS)


class _RowTexts:
    """The completion text of each generated row, by the ids generated after `start`: a row's text
    is its parent's (one token shorter: the previous step's row, whichever beam it was) plus its
    newest token's. A token that is part of a character (`\ufffd` alone) is decoded with the row."""

    def __init__(self, pieces: list[str], start: int, opening: str, tokenizer):
        self.pieces, self.start, self.tokenizer = pieces, start, tokenizer
        self.known: dict[tuple[int, ...], str] = {(): opening}
        self.opening = opening

    def of(self, row) -> str:
        key = tuple(row[self.start :].tolist())
        text = self.known.get(key)
        if text is None:
            parent, piece = self.known.get(key[:-1]), self.pieces[key[-1]]
            if parent is None or "\ufffd" in piece:
                text = self.opening + self.tokenizer.decode(list(key), skip_special_tokens=True)
            else:
                text = parent + piece
            self.known[key] = text
        return text


class _GrammarMask:
    """Logits processor: each row's log-probabilities outside `EditGrammar.allowed` set to -inf
    (row r belongs to prompt r // rows_per_prompt; a prompt that does not parse is unconstrained)."""

    def __init__(self, grammar: EditGrammar, prompts: list[ParsedPrompt | None], rows_per_prompt: int, texts: _RowTexts):
        self.grammar, self.prompts, self.rows_per_prompt, self.texts = grammar, prompts, rows_per_prompt, texts

    def __call__(self, input_ids, scores):
        import torch

        mask = torch.full_like(scores, -math.inf)
        for row in range(input_ids.shape[0]):
            prompt = self.prompts[row // self.rows_per_prompt]
            allowed = (
                self.grammar.everything if prompt is None else self.grammar.allowed(prompt, self.texts.of(input_ids[row]))
            )
            if allowed is self.grammar.everything:
                mask[row] = 0
            else:
                mask[row, allowed] = 0
        return scores + mask


class _EditEnd:
    """Stopping criterion: a row is done once its text holds a closing tag or has begun `</edit>`."""

    def __init__(self, texts: _RowTexts):
        self.texts = texts

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        done = [_edit_done(self.texts.of(row)) for row in input_ids]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class _HeaderTrie:
    """The token trie of a prompt's edit headers (`repair.edits.edit_headers`), each tokenized on its
    own: an edit row starts after a newline, where byte-level BPE starts a new word, so this is how
    training tokenized it. Node 0 is the root; `ends[node]` is the header a node completes."""

    def __init__(self, tokenizer, headers: list[str]):
        self.children: list[dict[int, int]] = [{}]
        self.ends: list[str | None] = [None]
        for header, ids in zip(
            headers, tokenizer(headers, add_special_tokens=False)["input_ids"], strict=True
        ):
            node = 0
            for token in ids:
                child = self.children[node].get(token)
                if child is None:
                    child = len(self.children)
                    self.children.append({})
                    self.ends.append(None)
                    self.children[node][token] = child
                node = child
            self.ends[node] = header


class _NoOpFork:
    """For one `@K SPAN` header being completed greedily: the cheapest single departure from the
    greedy path inside its `=NEW` row (the step, the path's log-probability with the step's second
    likeliest token, that token), in case the row's NEW turns out to be SPAN unchanged."""

    def __init__(self, header: str, names: Sequence[str] = ()):
        self.header, self.names = header, names
        # None for other rows, and for a header that already holds part of its NEW (a fork's).
        whole = re.fullmatch(r"@-?\d+ ([^\n]+)\n", header)
        self.span = whole.group(1) if whole else None
        self.best: tuple[float, int, int] | None = None

    def _row(self, text: str) -> str:
        return text[len(EDIT_OPENING) + len(self.header) :]

    def in_new(self, text: str) -> bool:
        """Whether the next token of `text` (the completion so far) is still part of the first NEW."""
        return self.span is not None and "\n" not in self._row(text)

    def offer(self, step: int, score: float, token: int) -> None:
        if self.best is None or score > self.best[0]:
            self.best = (score, step, token)

    def is_no_op(self, text: str) -> bool:
        """Whether the first row after the header is `=SPAN`, a `$K` (a model that reads names)
        resolved: `@0 enc_name` answered `=$1` where the first name is `enc_name` changes nothing."""
        if self.span is None:
            return False
        return resolve_names(self._row(text).split("\n", 1)[0], self.names) == "=" + self.span


class RepairModel:
    """`RepairModel(dir).propose(code, diagnostic)` -> the generated `<diff>` text.

    `temperature` 0 decodes greedily; otherwise sampling with `top_p`/`top_k` (the case study's
    pass@1 settings are temperature 0.1, top_p 0.95, top_k 50). `window` (lines either side of the
    error line; None: whole file) defaults to what the model was trained with. `device` "auto" runs
    on the GPU in bf16 with batches of 64 when one is present, else on the CPU in fp32 with batches
    of 16 (`placement`); `batch_size` overrides the batch. A model that emits the compact edit
    decodes `edit_candidates` answers per prompt (greedy: ranked headers, `_ranked_candidates`, or
    with `ranked_headers=False` token beams; otherwise samples), constrained
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
        ranked_headers: bool = True,
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
        self.names = read_prompt_names(self.model_dir)
        self.candidates = edit_candidates if self.response_format == EDIT_RESPONSE else 1
        self.ranked_headers = ranked_headers
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
        # Each token's text as a completion shows it (special tokens: nothing), so that the grammar
        # extends a row's text by its newest token instead of decoding the row again at every step.
        special = set(self.tokenizer.all_special_ids)
        self._pieces = (
            ["" if i in special else text for i, text in enumerate(self.grammar.vocabulary)] if self.grammar else []
        )

    def generate(
        self, prompts: Sequence[str], sources: Sequence[tuple[str, Diagnostic]] | None = None
    ) -> list[str]:
        """One completion per section 3 prompt, cut after `</diff>` (or at end of sequence); an
        `<edit>` completion is expanded into its `<diff>` block (kept as is when it cannot be).

        With several candidates per prompt, the answer is the first, in the model's order, that
        passes `repair.quickcheck` against `sources` (per prompt, the whole file and the target
        diagnostic; without them, the prompt's own lines and `<lsp_error>`). When the check ran and
        none passes, the answer is `NO_FIX` (an empty diff: status `no_fix`): on the demo day's
        model, none of 36 such answers was right (held-out exact 0/7, function_repair tests 0/29),
        and a fix that fails the product's own check is worse shown than not. Without ruff to ask,
        the first candidate that is a diff, else the first."""
        # With the file, a `+^` row's import goes where the file's imports are (else `top_line`).
        tops = [import_line(source[0]) if source else None for source in sources] if sources else None
        with self._lock:
            candidates = self.candidates_of(prompts, tops)
        checked = None
        request_sources = sources or [_source_of(p) for p in prompts]
        if self.candidates > 1:
            try:
                checked = first_clearing(request_sources, candidates)
            except (ToolFailure, OSError):  # no ruff to ask: the model's order alone decides
                checked = None
        completions = []
        for index, answers in enumerate(candidates):
            best = checked[index] if checked is not None else None
            if best is None and checked is not None and request_sources[index] is not None:
                completions.append(NO_FIX)
                continue
            if best is None:
                best = next((i for i, a in enumerate(answers) if _is_diff(a)), 0) if len(answers) > 1 else 0
            completions.append(answers[best])
        return completions

    def candidates_of(self, prompts: Sequence[str], tops: Sequence[int | None] | None = None) -> list[list[str]]:
        """Per prompt, its `candidates` completions in the model's order (beams when greedy, samples
        otherwise; constrained and greedy: `_ranked_candidates`), each finished by `_finish` (a `+^`
        row's import at the prompt's line of `tops`, the file's `import_line`, when given)."""
        tops = tops or [None] * len(prompts)
        if self.grammar is not None and self.temperature <= 0 and self.ranked_headers:
            return [self._ranked_candidates(p, top) for p, top in zip(prompts, tops, strict=True)]
        return self._beam_candidates(prompts, tops)

    def _beam_candidates(self, prompts: Sequence[str], tops: Sequence[int | None]) -> list[list[str]]:
        """`candidates_of` by `generate`: beams (greedy) or samples, batched."""
        import torch

        candidates: list[list[str]] = []
        sampling = self.temperature > 0
        torch.manual_seed(self.seed)
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            batch = [model_input(p) for p in chunk]
            # Constrained, every answer of an edit model is an edit (the dataset's responses all are):
            # its opening is part of the input, not six decoding steps.
            opening = EDIT_OPENING if self.grammar is not None else ""
            encoded = self.tokenizer(
                [model_input(p, self.names) + opening for p in chunk],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
                return_token_type_ids=False,
            )
            encoded = {k: v.to(self.device) for k, v in encoded.items()}
            prompt_tokens = encoded["input_ids"].shape[1]
            hooks = self._grammar_hooks(batch, prompt_tokens)
            with torch.inference_mode():
                output = self.model.generate(
                    **encoded,
                    past_key_values=self._prompt_cache(encoded),
                    logits_processor=hooks[0] if hooks else None,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=sampling,
                    temperature=self.temperature if sampling else None,
                    top_p=self.top_p if sampling else None,
                    top_k=self.top_k if sampling else None,
                    num_beams=1 if sampling else self.candidates,
                    num_return_sequences=self.candidates,
                    eos_token_id=self.tokenizer.eos_token_id,
                    pad_token_id=self.tokenizer.pad_token_id,
                    stopping_criteria=hooks[1] if hooks else self._stop_at_block_end,
                    # LLM Foundry exports with use_cache false (a training setting); decoding without
                    # the KV cache recomputes the whole sequence at every token (measured 23x slower).
                    use_cache=True,
                )
            texts = self.tokenizer.batch_decode(output[:, prompt_tokens:], skip_special_tokens=True)
            for index, prompt in enumerate(batch):
                candidates.append([
                    self._finish(prompt, opening + text, tops[start + index])
                    for text in texts[index * self.candidates : (index + 1) * self.candidates]
                ])
        return candidates

    def _ranked_candidates(self, prompt: str, top: int | None = None) -> list[str]:
        """The `candidates` best edits of one prompt whose first rows begin differently (greedy,
        constrained decoding): a beam search over the prompt's edit headers (`_HeaderTrie`: where
        the edit is and what it replaces), then each header completed greedily under `EditGrammar`;
        ranked by the log-probability of the whole edit. Beams over tokens spend their width on
        replacements at one place: on the demo day's 15 held-out prompts, 4 beams put all 4 answers
        on one `@K SPAN` for 11 of them (the demo model of 2026-12-03). With more than one answer,
        one edits the name the diagnostic flags (`_flagged_header`), and an answer that
        would replace a span by itself is completed again (`_NoOpFork`). The flagged header's answer
        is a name the model reads (`=$K`) where that is likelier than its greedy NEW
        (`_pointer_answer`)."""
        import torch

        try:
            parsed = parse_prompt(prompt)
        except PromptError:  # no lines to edit: beams, unconstrained
            return self._beam_candidates([prompt])[0]
        trie = _HeaderTrie(self.tokenizer, edit_headers(parsed))
        conditioning = model_input(prompt, self.names) + EDIT_OPENING
        prefix = self.tokenizer(conditioning, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            out = self.model(torch.tensor([prefix], device=self.device), use_cache=True)
            # The prompt is read once; each step below extends its own copy of the prompt's cache.
            prompt_cache, first_logp = out.past_key_values, out.logits[:, -1].float().log_softmax(-1)
            headers = self._header_beams(trie, copy.deepcopy(prompt_cache), first_logp)
            # The diagnostic names the identifier to correct: one of several answers edits it, in
            # place of the least likely header, however the model ranks it.
            flagged = self._flagged_header(parsed, prompt_cache, first_logp, headers) if self.candidates > 1 else None
            if flagged is not None:
                headers = [*headers[: self.candidates - 1], flagged]
            completions, forks = self._complete_headers(parsed, headers, copy.deepcopy(prompt_cache), len(prefix))
            if forks:
                forked, _ = self._complete_headers(parsed, list(forks.values()), copy.deepcopy(prompt_cache), len(prefix))
                for row, completion in zip(forks, forked, strict=True):
                    completions[row] = completion
            # The flagged header's NEW may also be a name the model reads, whole (`_pointer_answer`).
            name = flagged_name(parsed)
            rows = [r for r, (_, text) in enumerate(completions) if name and text.startswith(f"{EDIT_OPENING}@0 {name}\n")]
            pointer = self._pointer_answer(parsed, prompt_cache, first_logp) if rows else None
            for row in rows:
                if pointer is not None and pointer[0] > completions[row][0]:
                    completions[row] = pointer
        ranked = [text for _, text in sorted(completions, key=lambda pair: -pair[0])]
        return [self._finish(model_input(prompt), text, top) for text in ranked]

    def _flagged_header(
        self, parsed: ParsedPrompt, prompt_cache, first_logp, headers
    ) -> tuple[float, list[int], str] | None:
        """`@0 NAME` scored by the model after the prompt (`_scored`), when the diagnostic names NAME (`flagged_name`), NAME
        occurs once in the error line and no header of `headers` is it; else None."""
        name = flagged_name(parsed)
        if name is None:
            return None
        header = f"@0 {name}\n"
        if any(text == header for _, _, text in headers) or header not in edit_headers(parsed):
            return None
        score, ids = self._scored(header, prompt_cache, first_logp)
        return score, ids, header

    def _pointer_answer(self, parsed: ParsedPrompt, prompt_cache, first_logp) -> tuple[float, str] | None:
        """(log-probability, completion) of the likeliest `@0 NAME` answered by a name the model
        reads (`=$K`, docs/formats.md 3b), for the flagged NAME of an answer's header, when names
        like it are shown; else None. The greedy completion of that header is one spelling of its
        NEW, and a pointer can be likelier as a whole while its first token is not."""
        name = flagged_name(parsed) if self.names else None
        names = similar_names(parsed) if name is not None else ()
        if not names:
            return None
        texts = [f"@0 {name}\n=${k}\n</" for k in range(1, len(names) + 1)]
        return max((self._scored(text, prompt_cache, first_logp)[0], EDIT_OPENING + text) for text in texts)

    def _scored(self, text: str, prompt_cache, first_logp) -> tuple[float, list[int]]:
        """The log-probability of `text` right after the prompt (its KV cache, left as it is, and
        the log-probabilities of the first token), and its token ids."""
        import torch

        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        out = self.model(torch.tensor([ids], device=self.device), past_key_values=copy.deepcopy(prompt_cache), use_cache=True)
        logp = torch.cat([first_logp, out.logits[0, :-1].float().log_softmax(-1)])
        return sum(float(logp[i, token]) for i, token in enumerate(ids)), ids

    def _header_beams(self, trie: _HeaderTrie, cache, logp) -> list[tuple[float, list[int], str]]:
        """(log-probability, token ids, text) of the `candidates` likeliest complete headers; `cache`
        (the prefix's) is extended in place. Log-probabilities only fall as a header grows, so the
        search stops once `candidates` complete ones beat every open beam."""
        import torch

        beams: list[tuple[float, list[int], int]] = [(0.0, [], 0)]
        done: list[tuple[float, list[int], str]] = []
        while beams:
            scores = logp.tolist()
            grown = sorted(
                (
                    (score + scores[row][token], row, token, child)
                    for row, (score, ids, node) in enumerate(beams)
                    for token, child in trie.children[node].items()
                ),
                reverse=True,
            )
            kept: list[tuple[float, list[int], int]] = []
            rows: list[int] = []
            for score, row, token, child in grown:
                ids = [*beams[row][1], token]
                if trie.ends[child] is not None:
                    done.append((score, ids, trie.ends[child]))
                if trie.children[child] and len(kept) < self.candidates:
                    kept.append((score, ids, child))
                    rows.append(row)
            done = sorted(done, reverse=True)[: self.candidates]
            if not kept or (len(done) == self.candidates and done[-1][0] >= kept[0][0]):
                break
            cache.reorder_cache(torch.tensor(rows, device=self.device))
            out = self.model(
                torch.tensor([[ids[-1]] for _, ids, _ in kept], device=self.device),
                past_key_values=cache,
                use_cache=True,
            )
            logp, beams = out.logits[:, -1].float().log_softmax(-1), kept
        return done

    def _complete_headers(
        self, prompt: ParsedPrompt, headers: list[tuple[float, list[int], str]], cache, prefix_len: int
    ) -> tuple[list[tuple[float, str]], dict[int, tuple[float, list[int], str]]]:
        """Each header's edit completed greedily under `EditGrammar` (all at once: right-padded
        headers, positions and mask per row): (log-probability, text) per header, in their order.

        Also, by row, the header to complete instead where an `@K SPAN` row's greedy `=NEW` is SPAN
        itself, an edit that changes nothing: the header and NEW up to the step where taking the
        step's second likeliest token costs least, then that token (`_NoOpFork`). The model copies
        its span more readily than it corrects it: the shipped base answered 37 of 119 held-out
        prompts with such a no-op among its four candidates, `enc_namr` kept where `enc_name` was
        its next choice."""
        import torch

        rows = len(headers)
        cache.batch_repeat_interleave(rows)
        lengths = [len(ids) for _, ids, _ in headers]
        width = max(lengths)
        ids = torch.full((rows, width), self.tokenizer.pad_token_id, device=self.device)
        mask = torch.zeros((rows, prefix_len + width), dtype=torch.long, device=self.device)
        mask[:, :prefix_len] = 1
        for row, (_, header_ids, _) in enumerate(headers):
            ids[row, : len(header_ids)] = torch.tensor(header_ids, device=self.device)
            mask[row, prefix_len : prefix_len + len(header_ids)] = 1
        positions = torch.arange(prefix_len, prefix_len + width, device=self.device).expand(rows, -1)
        texts = [EDIT_OPENING + text for _, _, text in headers]
        row_texts = [_RowTexts(self._pieces, 0, text, self.tokenizer) for text in texts]
        generated: list[list[int]] = [[] for _ in range(rows)]
        scores = [score for score, _, _ in headers]
        numbers = set(self.grammar.numbers)
        finished = [False] * rows
        names = similar_names(prompt) if self.names else ()
        forks = [_NoOpFork(header, names) for _, _, header in headers]
        with torch.inference_mode():
            out = self.model(
                ids, attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=True
            )
            logits = out.logits[torch.arange(rows, device=self.device), torch.tensor(lengths, device=self.device) - 1]
            for step in range(self.max_new_tokens):
                logp = logits.float().log_softmax(-1)
                tokens = []
                for row in range(rows):
                    if finished[row]:
                        tokens.append(self.tokenizer.pad_token_id)
                        continue
                    allowed = self.grammar.allowed(prompt, texts[row])
                    if step == 0 and headers[row][2].startswith("+"):  # `+K` is whole: its TEXT, not more of K
                        allowed = [token for token in allowed if token not in numbers]
                    candidates = logp[row] if allowed is self.grammar.everything else logp[row, allowed]
                    top = candidates.topk(min(2, candidates.numel()))
                    best = int(top.indices[0])
                    token = best if allowed is self.grammar.everything else allowed[best]
                    if top.indices.numel() > 1 and forks[row].in_new(texts[row]):
                        second = int(top.indices[1])
                        alternative = second if allowed is self.grammar.everything else allowed[second]
                        if alternative != self.tokenizer.eos_token_id:
                            forks[row].offer(len(generated[row]), scores[row] + float(top.values[1]), alternative)
                    scores[row] += float(logp[row, token])
                    tokens.append(token)
                    if token == self.tokenizer.eos_token_id:
                        finished[row] = True
                        continue
                    generated[row].append(token)
                    texts[row] = row_texts[row].of(torch.tensor(generated[row]))
                    finished[row] = _edit_done(texts[row])
                if all(finished) or step == self.max_new_tokens - 1:
                    break
                mask = torch.cat([mask, torch.ones((rows, 1), dtype=torch.long, device=self.device)], 1)
                out = self.model(
                    torch.tensor([[t] for t in tokens], device=self.device),
                    attention_mask=mask,
                    position_ids=torch.tensor([[n + step] for n in lengths], device=self.device) + prefix_len,
                    past_key_values=out.past_key_values,
                    use_cache=True,
                )
                logits = out.logits[:, -1]
        instead = {}
        for row, fork in enumerate(forks):
            if fork.best is not None and fork.is_no_op(texts[row]):
                score, step, token = fork.best
                ids = [*headers[row][1], *generated[row][:step], token]
                instead[row] = (score, ids, fork.header + self.tokenizer.decode(ids[len(headers[row][1]) :]))
        return list(zip(scores, texts, strict=True)), instead

    def _prompt_cache(self, encoded: dict[str, Any]):
        """The KV cache of each prompt but its last token, computed once and repeated for the prompt's
        `candidates` rows: given none, `generate` runs the prompt through the model once per beam
        (4 rows of a 250-token prompt: 106 ms against 30 for one, in process, 1 thread). Positions
        are numbered as `generate` numbers them, from each row's first token after the left padding."""
        ids, mask = encoded["input_ids"], encoded["attention_mask"]
        if ids.shape[1] < 2:
            return None
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = self.model(
            input_ids=ids[:, :-1],
            attention_mask=mask[:, :-1],
            position_ids=positions[:, :-1],
            use_cache=True,
            logits_to_keep=1,
        ).past_key_values
        if self.candidates > 1:
            cache.batch_repeat_interleave(self.candidates)
        return cache

    def _grammar_hooks(self, batch: list[str], prompt_tokens: int) -> tuple[Any, Any] | None:
        """`generate`'s logits processors and stopping criteria for a batch constrained by
        `EditGrammar` (None without a grammar). Every prompt has `candidates` rows (its beams, or its
        samples), and all rows start generating at `prompt_tokens` (padding is on the left)."""
        if self.grammar is None:
            return None
        from transformers import LogitsProcessorList, StoppingCriteriaList

        parsed: list[ParsedPrompt | None] = []
        for text in batch:
            try:
                parsed.append(parse_prompt(text))
            except PromptError:
                parsed.append(None)
        texts = _RowTexts(self._pieces, prompt_tokens, EDIT_OPENING, self.tokenizer)
        return (
            LogitsProcessorList([_GrammarMask(self.grammar, parsed, self.candidates, texts)]),
            StoppingCriteriaList([_EditEnd(texts)]),
        )

    def _finish(self, prompt: str, text: str, top: int | None = None) -> str:
        """A completion cut after its block (an edit stopped at the start of its closing tag gets
        the rest of the tag), an edit expanded into its diff (`expand_completion`, with `top`)."""
        ends = [(text.find(tag), tag) for tag in STOP_STRINGS if tag in text]
        if ends:
            end, tag = min(ends)
            text = text[: end + len(tag)]
        elif _closing_begun(text):
            text = text[: text.rindex("\n") + 1] + CLOSE_EDIT
        return expand_completion(prompt, text, self.names, top) if self.response_format == EDIT_RESPONSE else text

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
