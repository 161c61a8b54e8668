"""Runs every `bench_*.py` module in this folder in turn (`make bench`)."""

import importlib
import pkgutil
import sys

import benchmarks

names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
only = sys.argv[1:]
for name in names:
    if only and name not in only:
        continue
    print(f"== {name}", flush=True)
    importlib.import_module(f"benchmarks.{name}").main()
