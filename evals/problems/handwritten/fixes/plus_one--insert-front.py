"""Plus One: add one to a number given as a list of digits."""


def plus_one(digits: list[int]) -> list[int]:
    result = list(digits)
    for index in range(len(result) - 1, -1, -1):
        if result[index] < 9:
            result[index] += 1
            return result
        result[index] = 0
    result.insert(0, 1)
    return result
