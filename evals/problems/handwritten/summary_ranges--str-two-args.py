"""Summary Ranges of a sorted list of distinct integers."""


def summary_ranges(nums: list[int]) -> list[str]:
    ranges: list[str] = []
    start = 0
    for index in range(len(nums)):
        if index + 1 == len(nums) or nums[index + 1] != nums[index] + 1:
            if start == index:
                ranges.append(str(nums[start]))
            else:
                ranges.append(str(nums[start], "->", nums[index]))
            start = index + 1
    return ranges
