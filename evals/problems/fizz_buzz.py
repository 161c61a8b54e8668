"""Fizz Buzz for 1..n."""


def fizz_buzz(limit: int) -> list[str]:
    answer: list[str] = []
    for number in range(1, limit + 1):
        if number % 15 == 0:
            answer.append("FizzBuzz")
        elif number % 3 == 0:
            answer.append("Fizz")
        elif number % 5 == 0:
            answer.append("Buzz")
        else:
            answer.append(str(number))
    return answer


# --- tests ---
def test_fizz_buzz():
    assert fizz_buzz(3) == ["1", "2", "Fizz"]
    assert fizz_buzz(5)[-1] == "Buzz"
    assert fizz_buzz(15)[-1] == "FizzBuzz"
    assert len(fizz_buzz(0)) == 0
