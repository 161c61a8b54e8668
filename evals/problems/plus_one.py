"""Plus One: add one to a number given as a list of digits."""


def plus_one(digits: list[int]) -> list[int]:
    result = list(digits)
    for index in range(len(result) - 1, -1, -1):
        if result[index] < 9:
            result[index] += 1
            return result
        result[index] = 0
    return [1] + result


# --- tests ---
def test_plus_one():
    assert plus_one([1, 2, 3]) == [1, 2, 4]
    assert plus_one([9]) == [1, 0]
    assert plus_one([9, 9]) == [1, 0, 0]
    assert plus_one([4, 3, 2, 1]) == [4, 3, 2, 2]
