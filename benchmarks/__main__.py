"""Runs every `bench_*.py` module in this folder in turn (`make bench`), or the ones named:
`python -m benchmarks bench_reproduce bench_serving`. A benchmark's own options go to its module
(`python -m benchmarks.bench_serving --model-dir DIR`): given here, they would be silently dropped
and the benchmark would run on its defaults, so anything that is not a benchmark's name is refused."""

import importlib
import pkgutil
import sys

import benchmarks

names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
only = sys.argv[1:]
unknown = [arg for arg in only if arg not in names]
if unknown:
    sys.exit(
        f"python -m benchmarks: not a benchmark: {' '.join(unknown)}. Benchmarks: {' '.join(names)}.\n"
        "Options go to the benchmark's own module: python -m benchmarks.<name> --help"
    )
for name in names:
    if only and name not in only:
        continue
    print(f"== {name}", flush=True)
    importlib.import_module(f"benchmarks.{name}").main()
