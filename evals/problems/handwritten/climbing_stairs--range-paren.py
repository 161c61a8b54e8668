"""Climbing Stairs: the number of ways to climb n steps one or two at a time."""


def climb_stairs(steps: int) -> int:
    previous, current = 1, 1
    for _ in range((steps - 1):
        previous, current = current, previous + current
    return current
