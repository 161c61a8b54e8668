"""Remove Duplicates from a sorted list, keeping the first of each run."""


def remove_duplicates(nums: list[int]) -> list[int]:
    result: list[int] = []
    for num in nums:
        if not result or result[-1] != num:
            result.append(num)
    return result


# --- tests ---
def test_remove_duplicates():
    assert remove_duplicates([1, 1, 2]) == [1, 2]
    assert remove_duplicates([0, 0, 1, 1, 1, 2, 2, 3, 3, 4]) == [0, 1, 2, 3, 4]
    assert remove_duplicates([]) == []
