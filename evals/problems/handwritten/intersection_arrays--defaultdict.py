"""Intersection of Two Arrays, each element as many times as it appears in both."""


def intersect(first: list[int], second: list[int]) -> list[int]:
    counts = defaultdict(int)
    for num in first:
        counts[num] += 1
    result: list[int] = []
    for num in second:
        if counts[num] > 0:
            result.append(num)
            counts[num] -= 1
    return sorted(result)
