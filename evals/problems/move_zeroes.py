"""Move Zeroes to the end, keeping the order of the other elements."""


def move_zeroes(nums: list[int]) -> list[int]:
    result = [num for num in nums if num != 0]
    result.extend([0] * (len(nums) - len(result)))
    return result


# --- tests ---
def test_move_zeroes():
    assert move_zeroes([0, 1, 0, 3, 12]) == [1, 3, 12, 0, 0]
    assert move_zeroes([0]) == [0]
    assert move_zeroes([1, 2]) == [1, 2]
