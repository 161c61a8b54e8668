"""Single Number: the element that appears once when every other appears twice."""


def single_number(nums: list[int]) -> int:
    counts: dict[int, int] = {}
    for num in nums:
        counts[num] = counts.get(num, 0) + 1
    for num, count in counts.items():
        if count == 1:
            return num
    raise ValueError("no single number")


# --- tests ---
def test_single_number():
    assert single_number([2, 2, 1]) == 1
    assert single_number([4, 1, 2, 1, 2]) == 4
    assert single_number([1]) == 1
