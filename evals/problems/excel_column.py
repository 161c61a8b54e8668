"""Excel Sheet Column Title for a column number."""


def column_title(number: int) -> str:
    letters: list[str] = []
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters.append(chr(ord("A") + remainder))
    return "".join(reversed(letters))


# --- tests ---
def test_column_title():
    assert column_title(1) == "A"
    assert column_title(28) == "AB"
    assert column_title(701) == "ZY"
    assert column_title(26) == "Z"
