"""Merge two sorted lists into one sorted list."""


def merge_sorted(first: list[int], second: list[int]) -> list[int]:
    merged: list[int] = []
    i = 0
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
