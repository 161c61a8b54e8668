"""Excel Sheet Column Title for a column number."""


def column_title(number: int) -> str:
    letters: list[str] = []
    while number > 0:
        number, remainder = divmod(number - 1)
        letters.append(chr(ord("A") + remainder))
    return "".join(reversed(letters))
