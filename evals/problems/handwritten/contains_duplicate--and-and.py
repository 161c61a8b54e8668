"""Contains Duplicate within distance k."""


def contains_nearby_duplicate(nums: list[int], distance: int) -> bool:
    last_seen: dict[int, int] = {}
    for index, num in enumerate(nums):
        if (num in last_seen) && (index - last_seen[num] <= distance):
            return True
        last_seen[num] = index
    return False
