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
    return sorted(result)


# --- tests ---
def test_intersect():
    assert intersect([1, 2, 2, 1], [2, 2]) == [2, 2]
    assert intersect([4, 9, 5], [9, 4, 9, 8, 4]) == [4, 9]
    assert intersect([1], [2]) == []
