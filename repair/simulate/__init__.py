"""The session simulator: realistic IDE session logs from real Python code (the embedded default's
data). `simulate_partition(store, SimulationConfig(day=..., sessions=..., seed=...))` writes one daily
partition of session logs, the final snapshots, the ground truth side output and a realism report.
See docs/simulator.md.
"""

from repair.simulate.behaviour import DEFAULT_MIX, BehaviourModel, TimingModel
from repair.simulate.mistakes import DETERMINISTIC_FIX_KINDS, MISTAKE_KINDS, NEEDS_UNDERSTANDING_KINDS
from repair.simulate.partition import SimulationConfig, simulate_partition
from repair.simulate.summary import SimulationSummary

__all__ = [
    "DEFAULT_MIX",
    "DETERMINISTIC_FIX_KINDS",
    "MISTAKE_KINDS",
    "NEEDS_UNDERSTANDING_KINDS",
    "BehaviourModel",
    "SimulationConfig",
    "SimulationSummary",
    "TimingModel",
    "simulate_partition",
]
