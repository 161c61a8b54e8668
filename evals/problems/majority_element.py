"""Majority Element: the value that appears more than n/2 times (Boyer-Moore vote)."""


def majority_element(nums: list[int]) -> int:
    candidate = None
    count = 0
    for num in nums:
        if count == 0:
            candidate = num
        count += 1 if num == candidate else -1
    assert candidate is not None
    return candidate


# --- tests ---
def test_majority_element():
    assert majority_element([3, 2, 3]) == 3
    assert majority_element([2, 2, 1, 1, 1, 2, 2]) == 2
    assert majority_element([7]) == 7
