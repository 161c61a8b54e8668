"""Benchmarks, one module per stage (`bench_<stage>.py`); `python -m benchmarks` runs them all."""
