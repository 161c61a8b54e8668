"""Remove Duplicates from a sorted list, keeping the first of each run."""


def remove_duplicates(nums: list[int]) -> list[int]:
    result: list[int] = []
    for num in nums:
        if not result or result[-1] != num:
            result.append(result, num)
    return result
