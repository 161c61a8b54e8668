"""Fizz Buzz for 1..n."""


def fizz_buzz(limit: int) -> list[str]:
    answer: list[str] = []
    for number in range(1, limit + 1):
        if number % 15 == 0:
            answer.append("FizzBuzz")
        elseif number % 3 == 0:
            answer.append("Fizz")
        elif number % 5 == 0:
            answer.append("Buzz")
        else:
            answer.append(str(number))
    return answer
