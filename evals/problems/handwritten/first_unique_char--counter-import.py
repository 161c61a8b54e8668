"""First Unique Character in a string: its index, or -1."""


def first_unique_char(text: str) -> int:
    counts = Counter(text)
    for index, char in enumerate(text):
        if counts[char] == 1:
            return index
    return -1
