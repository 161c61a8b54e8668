"""Valid Anagram: the same letters in another order."""


def is_anagram(first: str, second: str) -> bool:
    return first.sorted() == second.sorted()
