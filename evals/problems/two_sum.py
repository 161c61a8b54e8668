"""Two Sum: the indices of the two numbers that add up to `target`."""


def two_sum(nums: list[int], target: int) -> list[int]:
    seen: dict[int, int] = {}
    for index, num in enumerate(nums):
        if target - num in seen:
            return [seen[target - num], index]
        seen[num] = index
    return []


# --- tests ---
def test_two_sum():
    assert two_sum([2, 7, 11, 15], 9) == [0, 1]
    assert two_sum([3, 2, 4], 6) == [1, 2]
    assert two_sum([3, 3], 6) == [0, 1]
    assert two_sum([1, 2], 7) == []
