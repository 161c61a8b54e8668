"""Which repairers an evaluation compares, named by short specs (the asset's config and
`repair eval --model` take the same strings):

| spec | repairer |
| --- | --- |
| `no_change` | the floor: proposes nothing |
| `search` | the search-based repairer's candidates (`repair.teachers.search.candidates`), cheapest first, unverified: the harness's verifier checks them like any model's samples |
| `finetuned` | the newest registry version (`repair.training.registry`), in process (`repair.model.RepairModel`) |
| `finetuned:v3` / `finetuned:/path/to/checkpoint` | a given registry version or local checkpoint |
| `triton:HOST:PORT` | the deployed model through the Triton client (`repair.serving.client`) |
| `dspy:MODEL` | a LiteLLM model (`openai/gpt-4o-mini`, ...) through the DSPy repair program, zero-shot |
| `dspy-fewshot:MODEL` | the same with `few_shot` labelled demonstrations from training-side verified repairs |
| `command:CMD {file} {line}` | any external fixer: a shell command that rewrites `{file}` in place (`{line}`: the diagnostic's 1-based line) |

Decoding follows the case study (temperature 0.1, top_p 0.95, top_k 50) for the models that sample;
`Decoding` changes it. Each repairer offers up to k proposals for `verified@k` (`propose_k`): the
search repairer its k cheapest candidates, a model k samples, a command its one rewrite.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from repair.object_store import ObjectStore
from repair.repairer import Repairer

# The most one LLM request may take (LiteLLM's default is 600 s per attempt): every call is bounded.
LM_TIMEOUT_S = 60.0

KINDS = ("no_change", "search", "finetuned", "triton", "dspy", "dspy-fewshot", "command")


@dataclass(frozen=True)
class Decoding:
    temperature: float = 0.1
    top_p: float = 0.95
    top_k: int = 50
    max_new_tokens: int = 192
    seed: int = 0


CASE_STUDY_DECODING = Decoding()


@dataclass(frozen=True)
class ModelSpec:
    kind: str
    target: str = ""  # a version, path, URL or LiteLLM model, by kind

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.target}" if self.target else self.kind


def parse_model_spec(text: str) -> ModelSpec:
    kind, _, target = text.strip().partition(":")
    if kind not in KINDS:
        raise ValueError(f"model spec {text!r}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    if kind in ("triton", "dspy", "dspy-fewshot", "command") and not target:
        raise ValueError(f"model spec {text!r}: `{kind}:` needs a target (see evals.models)")
    if kind == "command" and "{file}" not in target:
        raise ValueError(f"model spec {text!r}: the command needs a `{{file}}` placeholder for the file it rewrites")
    return ModelSpec(kind, target)


class SearchProposer:
    """The search repairer as an evaluated repairer: its candidate edits in cost order, unverified
    (`pass@1` is the cheapest; `verified@k` lets the harness's verifier pick among the k cheapest, the
    same budget a model's k samples get)."""

    name = "search"

    def propose_k(self, code, diagnostic, file_name="main.py", context_files=None, k: int = 1) -> list[str]:
        from repair.linediff import make_diff, render_diff
        from repair.teachers.search import candidates

        return [render_diff(make_diff(code, c.fixed)) for c in candidates(code, diagnostic, file_name, context_files)[:k]]

    def propose(self, code, diagnostic, file_name="main.py", context_files=None) -> str:
        return next(iter(self.propose_k(code, diagnostic, file_name, context_files, 1)), "")


class Sampled:
    """k samples of a repairer that samples (`RepairModel`: one batch of k copies of the prompt;
    anything else: k calls)."""

    def __init__(self, repairer, name: str):
        self.repairer = repairer
        self.name = name

    def propose(self, code, diagnostic, file_name="main.py", context_files=None) -> str:
        return self.repairer.propose(code, diagnostic, file_name, context_files)

    def propose_k(self, code, diagnostic, file_name="main.py", context_files=None, k: int = 1) -> list[str]:
        prompt = getattr(self.repairer, "prompt", None)
        if prompt is not None and hasattr(self.repairer, "generate"):
            # With the file, as Triton gives it: the model checks its candidates against the whole
            # file, not only the lines its prompt shows.
            return self.repairer.generate([prompt(code, diagnostic, file_name)] * k, [(code, diagnostic)] * k)
        return [self.repairer.propose(code, diagnostic, file_name, context_files) for _ in range(k)]

    @property
    def usage(self):
        return getattr(self.repairer, "usage", None)


class CommandRepairer:
    """An external fixer: `command` (with `{file}` and optionally `{line}`) runs in a scratch folder
    holding the file and the project's other files, rewrites the file in place; the proposal is the
    line diff between the file before and after. A failing or timed-out command is an error the
    harness records; a command that leaves the file alone proposes nothing."""

    def __init__(self, command: str, timeout_s: float = 120.0):
        self.command = command
        self.timeout_s = timeout_s
        self.name = f"command:{command}"

    def propose(self, code, diagnostic, file_name="main.py", context_files=None) -> str:
        import shlex
        import subprocess

        from repair.linediff import make_diff, render_diff

        with tempfile.TemporaryDirectory(prefix="repair-eval-command-") as tmp:
            root = Path(tmp)
            for path, text in {**(context_files or {}), file_name: code}.items():
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_text(text, encoding="utf-8")
            target = root / file_name
            command = self.command.replace("{file}", shlex.quote(str(target))).replace("{line}", str(diagnostic.line1))
            done = subprocess.run(command, shell=True, cwd=root, capture_output=True, text=True, timeout=self.timeout_s,
                                  check=False)
            if done.returncode != 0 and target.read_text(encoding="utf-8") == code:
                raise RuntimeError(f"`{command}` exited {done.returncode}: {(done.stderr or done.stdout).strip()[-200:]}")
            fixed = target.read_text(encoding="utf-8")
        return "" if fixed == code else render_diff(make_diff(code, fixed))


def resolve_finetuned(spec: ModelSpec, store: ObjectStore | None) -> tuple[str, int | None, str]:
    """(display name, registry version or None, local path or "" to download) of a `finetuned` spec."""
    target = spec.target
    if target and not re.fullmatch(r"v?\d+", target):
        return f"finetuned:{Path(target).name}", None, target
    if store is None:
        raise ValueError(f"{spec.name}: a registry version needs the object store")
    from repair import registry

    if target:
        version = int(target.lstrip("v"))
    else:
        version = registry.latest_approved(store, registry.MODEL).version
    return f"finetuned:v{version}", version, ""


@contextmanager
def open_repairers(
    specs: Sequence[ModelSpec],
    *,
    store: ObjectStore | None = None,
    decoding: Decoding = CASE_STUDY_DECODING,
    demonstrations: Sequence = (),
    few_shot: int = 4,
    lm_options: dict[str, object] | None = None,
) -> Iterator[list[Repairer]]:
    """The repairers of `specs`, with whatever they hold open (linter servers, downloaded
    checkpoints) closed on exit. `demonstrations` are `dspy.Example`s for the few-shot variants;
    `lm_options` go to every `dspy.LM` (api_base, api_key, num_retries, cache, timeout: default
    `LM_TIMEOUT_S`)."""
    with ExitStack() as stack:
        repairers: list[Repairer] = []
        for spec in specs:
            if spec.kind == "no_change":
                from evals.harness import NoChange

                repairers.append(NoChange())
            elif spec.kind == "search":
                repairers.append(SearchProposer())
            elif spec.kind == "command":
                repairers.append(CommandRepairer(spec.target))
            elif spec.kind == "finetuned":
                from repair.model import RepairModel
                from repair.registry import fetch_model

                name, version, path = resolve_finetuned(spec, store)
                if version is not None:
                    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="repair-eval-model-")))
                    path = str(fetch_model(store, folder, version=version))
                model = RepairModel(path, temperature=decoding.temperature, top_p=decoding.top_p,
                                    top_k=decoding.top_k, max_new_tokens=decoding.max_new_tokens, seed=decoding.seed)
                repairers.append(Sampled(model, name))
            elif spec.kind == "triton":
                from repair.serving.client import RepairClient, TritonRepairer

                repairers.append(Sampled(TritonRepairer(RepairClient(spec.target)), spec.name))
            else:
                import dspy

                from repair.teachers.dspy_teacher import DSPyRepairer, with_demonstrations

                lm = dspy.LM(spec.target, temperature=decoding.temperature, top_p=decoding.top_p,
                             top_k=decoding.top_k, drop_params=True, **{"timeout": LM_TIMEOUT_S, **(lm_options or {})})
                program = with_demonstrations(list(demonstrations), k=few_shot) if spec.kind == "dspy-fewshot" else None
                name = f"{spec.kind}({few_shot}):{spec.target}" if spec.kind == "dspy-fewshot" else spec.name
                repairers.append(Sampled(DSPyRepairer(lm, program=program, max_workers=1, name=name), name))
        yield repairers


def demonstrations_from_dataset(dataset: pl.DataFrame, count: int) -> list:
    """`count` training-split examples of `repair_dataset` (never the held-out test split) as DSPy
    demonstrations, shortest responses first: the prompt's blocks become the repair program's
    inputs, the `<diff>` block its label."""
    import dspy

    from repair.prompt import PromptError, parse_prompt

    if dataset.is_empty() or count <= 0:
        return []
    rows = (
        dataset.filter(pl.col("split") == "train")
        .with_columns(pl.col("response").str.len_chars().alias("_length"))
        .sort(["_length", "diagnostic_id"])
    )
    examples = []
    for row in rows.iter_rows(named=True):
        try:
            parsed = parse_prompt(row["prompt"])
        except PromptError:
            continue
        numbered = "\n".join([f"#{parsed.file_name}", *(f"{n} {text}" for n, text in parsed.lines)])
        inputs = {"numbered_code": numbered, "diagnostic": parsed.lsp_error,
                  "error_line": f"{parsed.error_line} {parsed.error_text}"}
        examples.append(dspy.Example(**inputs, diff=row["response"]).with_inputs(*inputs))
        if len(examples) == count:
            break
    return examples
