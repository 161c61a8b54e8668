"""First Unique Character in a string: its index, or -1."""


def first_unique_char(text: str) -> int:
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    for index, char in enumerate(text):
        if counts[char] === 1:
            return index
    return -1
