"""Happy Number: repeatedly summing the squares of the digits reaches 1."""


def is_happy(number: int) -> bool:
    seen: set[int] = set()
    while number != 1 and number not in seen:
        seen.add(number)
        number = sum(int(digit ** 2 for digit in str(number)))
    return number == 1
