"""Climbing Stairs: the number of ways to climb n steps one or two at a time."""


def climb_stairs(steps: int) -> int:
    previous, current = 1, 1
    for _ in range(steps - 1):
        previous, current = current, previous + current
    return current


# --- tests ---
def test_climb_stairs():
    assert climb_stairs(1) == 1
    assert climb_stairs(2) == 2
    assert climb_stairs(3) == 3
    assert climb_stairs(5) == 8
    assert climb_stairs(10) == 89
