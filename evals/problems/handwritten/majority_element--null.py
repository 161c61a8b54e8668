"""Majority Element: the value that appears more than n/2 times (Boyer-Moore vote)."""


def majority_element(nums: list[int]) -> int:
    candidate = nil
    count = 0
    for num in nums:
        if count == 0:
            candidate = num
        count += 1 if num == candidate else -1
    assert candidate is not None
    return candidate
