"""Remove Duplicates from a sorted list, keeping the first of each run."""


def remove_duplicates(nums: list[int]) -> list[int]:
    result: list[int] = []
    for num in nums:
        if not result or results[-1] != num:
            result.append(num)
    return result
