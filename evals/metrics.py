"""Scores of one repair, and confidence intervals of a share.

- AST exact match: the repaired file and the reference parse to the same AST (`ast.dump`, without
  positions: formatting and comments do not count), the imports that open the file compared in any
  order (an added import is right anywhere among them: `repair.prompt.import_line` puts a model's
  after them, a user's went anywhere). When either side does not parse: no match.
- AST match with string fallback: the same where both parse; otherwise the normalised texts are
  equal (line endings unified, trailing blanks of every line and blank lines at the end dropped).
  The case study's production metric: a fix can be right in a file that still has another syntax
  error elsewhere.
- Diagnostic resolved: verification's re-lint rule (`repair.verify.judge_lint`): the target
  diagnostic is gone and no new error appeared.
- Tests pass (executable benchmark): the program's tests pass on the repaired file in the sandbox.

Intervals: Wilson score interval of a share (default 95%), and a paired bootstrap of the difference
of two models' means over the same items (the deployment gate).
"""

from __future__ import annotations

import ast
import math
import random
import warnings
from collections.abc import Sequence

from repair import pyparse


def _ast_dump(code: str) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences in candidate code
        try:
            tree = pyparse.parse(code)
        except (SyntaxError, ValueError):
            return None
    body = tree.body
    start = int(bool(body) and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant))
    end = start
    while end < len(body) and isinstance(body[end], ast.Import | ast.ImportFrom):
        end += 1
    body[start:end] = sorted(body[start:end], key=ast.dump)
    return ast.dump(tree)


def normalise(code: str) -> str:
    lines = [line.rstrip() for line in code.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def ast_exact_match(repaired: str, reference: str) -> bool:
    left, right = _ast_dump(repaired), _ast_dump(reference)
    return left is not None and left == right


def ast_match_with_string_fallback(repaired: str, reference: str) -> bool:
    left, right = _ast_dump(repaired), _ast_dump(reference)
    if left is not None and right is not None:
        return left == right
    return normalise(repaired) == normalise(reference)


def wilson_interval(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of `successes / total` ((0, 1) when there is nothing to count)."""
    if total <= 0:
        return 0.0, 1.0
    share = successes / total
    denominator = 1 + z * z / total
    centre = (share + z * z / (2 * total)) / denominator
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / denominator
    # At 0 or all successes a bound equals the share only up to rounding (6 of 6: 0.9999999999999999).
    return min(share, max(0.0, centre - half)), max(share, min(1.0, centre + half))


def paired_bootstrap_difference(
    candidate: Sequence[float], baseline: Sequence[float], *, samples: int = 2000, confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean difference candidate - baseline, low, high) over paired per-item scores."""
    if len(candidate) != len(baseline):
        raise ValueError(f"paired scores differ in length: {len(candidate)} vs {len(baseline)}")
    if not candidate:
        return 0.0, 0.0, 0.0
    differences = [c - b for c, b in zip(candidate, baseline, strict=True)]
    count = len(differences)
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(differences, k=count)) / count for _ in range(samples))
    tail = (1 - confidence) / 2
    low = means[int(tail * (samples - 1))]
    high = means[int((1 - tail) * (samples - 1))]
    return sum(differences) / count, low, high
