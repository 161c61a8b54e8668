"""Move Zeroes to the end, keeping the order of the other elements."""


def move_zeroes(nums: list[int]) -> list[int]:
    result = [num for num in nums if num != 0
    result.extend([0] * (len(nums) - len(result)))
    return result
