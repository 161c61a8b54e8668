"""Intersection of Two Arrays, each element as many times as it appears in both."""


def intersect(first: list[int], second: list[int]) -> list[int]:
    counts: dict[int, int] = {}
    for num in first:
        counts[num] = counts.get(num, 0) + 1
    result: list[int] = []
    for num in second:
        if counts.get(num, 0) > 0:
            result.append(num)
            counts[num] -= 1
    return result.sorted()
