"""Maximum Subarray: the largest sum of a contiguous run (Kadane)."""


def max_subarray(nums: list[int]) -> int:
    best = nums[0]
    current = nums[0]
    for num nums[1:]:
        current = max(num, current + num)
        best = max(best, current)
    return best
