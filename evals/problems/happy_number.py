"""Happy Number: repeatedly summing the squares of the digits reaches 1."""


def is_happy(number: int) -> bool:
    seen: set[int] = set()
    while number != 1 and number not in seen:
        seen.add(number)
        number = sum(int(digit) ** 2 for digit in str(number))
    return number == 1


# --- tests ---
def test_is_happy():
    assert is_happy(19)
    assert not is_happy(2)
    assert is_happy(1)
    assert is_happy(7)
