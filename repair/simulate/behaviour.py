"""The knobs of the simulated user and editor, with the defaults the embedded demo uses.

`TimingModel` is calibrated on the real editing traces (`repair.simulate.realism`, documented in
docs/simulator.md): keystroke gaps and pauses are drawn so that, bucketed to one-second resolution
like the traces, keystrokes per active second and the gaps between active seconds follow theirs.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from repair.simulate.mistakes import MISTAKE_KINDS

# Relative frequency of each mistake kind. Errors that need understanding dominate, so that every
# session yields many (code, diagnostic) pairs worth repairing; the two kinds a linter fixes by
# itself stay frequent enough that filtering has work to do.
DEFAULT_MIX: dict[str, float] = {
    "misspelled_name": 3.0,
    "misspelled_attribute": 2.0,
    "misspelled_method": 1.5,
    "missing_import": 1.5,
    "undefined_variable": 2.0,
    "wrong_argument_count": 1.5,
    "missing_colon": 1.5,
    "unbalanced_bracket": 1.2,
    "unclosed_string": 1.0,
    "bad_indentation": 1.0,
    "assign_for_eq": 0.8,
    "compare_for_assign": 0.6,
    "foreign_syntax": 0.6,
    "keyword_as_name": 0.6,
    "unused_import": 0.8,
    "fstring_without_placeholders": 0.5,
}
assert set(DEFAULT_MIX) == set(MISTAKE_KINDS)

# How a mistake ends: fixed to the original code, fixed along with unrelated edits before the next
# diagnostics arrive, "fixed" differently (the line commented out), or left in the code.
FIX_OUTCOMES: tuple[str, ...] = ("clean", "with_unrelated_edits", "different", "never")
DEFAULT_FIX_WEIGHTS: dict[str, float] = {"clean": 0.63, "with_unrelated_edits": 0.15, "different": 0.1, "never": 0.12}


@dataclass(frozen=True)
class TimingModel:
    """Milliseconds between keystrokes, pauses, packet flushes and diagnostic publishing."""

    key_gap_median_ms: float = 190.0  # within a burst of typing
    key_gap_sigma: float = 0.7  # lognormal spread of the gap
    line_pause_rate: float = 0.12  # chance of a thinking pause at the end of a line
    word_pause_rate: float = 0.01  # ... after a word inside a line
    pause_short_s: tuple[float, float] = (1.2, 4.0)
    pause_long_s: tuple[float, float] = (4.0, 30.0)
    pause_long_share: float = 0.3
    pause_very_long_share: float = 0.04  # minutes away from the keyboard
    pause_very_long_s: tuple[float, float] = (60.0, 420.0)
    flush_ms: int = 300  # the editor sends the keystrokes of the last `flush_ms` as one packet
    debounce_ms: int = 600  # the language server waits this long after the last packet ...
    analysis_ms: tuple[int, int] = (120, 700)  # ... then takes this long before it publishes

    def key_gap(self, rng: random.Random) -> int:
        return max(25, min(700, int(self.key_gap_median_ms * math.exp(rng.gauss(0.0, self.key_gap_sigma)))))

    def pause(self, rng: random.Random) -> int:
        r = rng.random()
        if r < self.pause_very_long_share:
            low, high = self.pause_very_long_s
        elif r < self.pause_very_long_share + self.pause_long_share:
            low, high = self.pause_long_s
        else:
            low, high = self.pause_short_s
        return int(1000 * math.exp(rng.uniform(math.log(low), math.log(high))))


@dataclass(frozen=True)
class BehaviourModel:
    """How often the simulated user does each thing."""

    mistake_rate: float = 0.75  # chance that a segment (a definition) is typed with a mistake
    fix_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FIX_WEIGHTS))
    fix_delay_weights: tuple[float, ...] = (0.55, 0.3, 0.15)  # fixed after 0, 1, 2 more segments
    paste_segment_rate: float = 0.18  # a whole definition pasted
    paste_line_rate: float = 0.03
    typo_rate: float = 0.012  # per letter: a wrong key, noticed and backspaced
    trailing_space_rate: float = 0.03  # per line: sloppy whitespace that a later format removes
    undo_rate: float = 0.08  # per segment: undo the last burst, then redo it
    format_rate: float = 0.1  # per segment: format the file
    refactor_rate: float = 0.08  # per segment: rename a local or add a comment in earlier code
    run_rate: float = 0.2  # per segment: run the program (the editor saves first)
    save_rate: float = 0.5  # per segment: save (Ctrl+S) after a look at the finished definition
    shell_rate: float = 0.3  # per session
    install_rate: float = 0.15  # per session
    session_count_weights: tuple[float, ...] = (0.5, 0.3, 0.2)  # a project gets 1, 2 or 3 sessions
