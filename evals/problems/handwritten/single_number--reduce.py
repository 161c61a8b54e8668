"""Single Number: the element that appears once when every other appears twice."""

import operator


def single_number(nums: list[int]) -> int:
    return reduce(operator.xor, nums)
