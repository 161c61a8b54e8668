"""The quick quality figure recorded with every trained model: exact-match fix rate on the
dataset's held-out test split (the evaluation stage measures the model properly on benchmarks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def exact_match(generate, examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`generate(prompts) -> completions` (e.g. `RepairModel.generate`) scored on `examples`
    (`prompt`, `response`, `rule`): a completion matches when its diff has exactly the reference
    diff's ops, an added import wherever it goes (`repair.edits.same_fix`). Returns the rate, how
    many completions held a well-formed diff, and the rate by rule."""
    from repair.edits import same_fix
    from repair.linediff import DiffError, parse_diff

    completions = generate([e["prompt"] for e in examples])
    matched, parsed = 0, 0
    by_rule: dict[str, list[int]] = {}
    for example, completion in zip(examples, completions, strict=True):
        try:
            ok = same_fix(parse_diff(completion), parse_diff(example["response"]))
            parsed += 1
        except DiffError:
            ok = False
        matched += ok
        by_rule.setdefault(example["rule"], [0, 0])
        by_rule[example["rule"]][0] += ok
        by_rule[example["rule"]][1] += 1
    total = len(examples)
    return {
        "items": total,
        "exact_match": round(matched / total, 4) if total else None,
        "well_formed": round(parsed / total, 4) if total else None,
        "exact_match_by_rule": {rule: round(m / n, 4) for rule, (m, n) in sorted(by_rule.items())},
    }
