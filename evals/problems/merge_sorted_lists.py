"""Merge two sorted lists into one sorted list."""


def merge_sorted(first: list[int], second: list[int]) -> list[int]:
    merged: list[int] = []
    i, j = 0, 0
    while i < len(first) and j < len(second):
        if first[i] <= second[j]:
            merged.append(first[i])
            i += 1
        else:
            merged.append(second[j])
            j += 1
    merged.extend(first[i:])
    merged.extend(second[j:])
    return merged


# --- tests ---
def test_merge_sorted():
    assert merge_sorted([1, 2, 4], [1, 3, 4]) == [1, 1, 2, 3, 4, 4]
    assert merge_sorted([], [0]) == [0]
    assert merge_sorted([5], []) == [5]
    assert merge_sorted([1, 9], [2, 3, 10]) == [1, 2, 3, 9, 10]
