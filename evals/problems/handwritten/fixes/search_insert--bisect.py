"""Search Insert Position: binary search for where `target` is or would go."""

import bisect


def search_insert(nums: list[int], target: int) -> int:
    return bisect.bisect_left(nums, target)
