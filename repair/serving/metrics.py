"""Triton's Prometheus metrics (`/metrics` on the metrics port), read for one model."""

from __future__ import annotations

import re
import urllib.request
from collections import defaultdict

# nv_inference_request_success{model="code_repair",version="2"} 12
_SAMPLE = re.compile(r"^((?:nv_inference|code_repair)_[a-z_]+)\{([^}]*)\}\s+([0-9.eE+-]+)$")
_SUMMED_LABELS = ("model", "version")


def parse_metrics(text: str, model: str) -> dict[str, float]:
    """Triton's `nv_inference_*` metrics and the model's own `code_repair_*` ones for `model`,
    summed over its versions; other labels stay in the key (`nv_inference_request_failure{reason=
    "BACKEND"}`, `code_repair_outcomes_total{outcome="fixed"}`)."""
    totals: dict[str, float] = defaultdict(float)
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if match is None:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
        if labels.get("model") != model:
            continue
        rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k not in _SUMMED_LABELS)
        totals[f"{match.group(1)}{{{rest}}}" if rest else match.group(1)] += float(match.group(3))
    return dict(sorted(totals.items()))


def fetch_metrics(metrics_url: str, model: str, timeout_s: float = 5.0) -> dict[str, float]:
    with urllib.request.urlopen(metrics_url, timeout=timeout_s) as response:
        return parse_metrics(response.read().decode("utf-8", errors="replace"), model)
