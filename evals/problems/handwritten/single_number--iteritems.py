"""Single Number: the element that appears once when every other appears twice."""


def single_number(nums: list[int]) -> int:
    counts: dict[int, int] = {}
    for num in nums:
        counts[num] = counts.get(num, 0) + 1
    for num, count in counts.entries():
        if count == 1:
            return num
    raise ValueError("no single number")
