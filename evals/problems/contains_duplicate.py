"""Contains Duplicate within distance k."""


def contains_nearby_duplicate(nums: list[int], distance: int) -> bool:
    last_seen: dict[int, int] = {}
    for index, num in enumerate(nums):
        if num in last_seen and index - last_seen[num] <= distance:
            return True
        last_seen[num] = index
    return False


# --- tests ---
def test_contains_nearby_duplicate():
    assert contains_nearby_duplicate([1, 2, 3, 1], 3)
    assert contains_nearby_duplicate([1, 0, 1, 1], 1)
    assert not contains_nearby_duplicate([1, 2, 3, 1, 2, 3], 2)
