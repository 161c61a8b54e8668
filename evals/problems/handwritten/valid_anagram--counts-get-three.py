"""Valid Anagram: the same letters in another order."""


def is_anagram(first: str, second: str) -> bool:
    counts: dict[str, int] = {}
    for char in first:
        counts[char] = counts.get(char, 0, 1) + 1
    for char in second:
        if counts.get(char, 0) == 0:
            return False
        counts[char] -= 1
    return sum(counts.values()) == 0
