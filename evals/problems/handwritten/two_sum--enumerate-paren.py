"""Two Sum: the indices of the two numbers that add up to `target`."""


def two_sum(nums: list[int], target: int) -> list[int]:
    seen: dict[int, int] = {}
    for index, num in enumerate(nums:
        if target - num in seen:
            return [seen[target - num], index]
        seen[num] = index
    return []
