"""Ransom Note: can the note be built from the magazine's letters."""


def can_construct(note: str, magazine: str) -> bool:
    available: dict[str, int] = {}
    for char in magazine:
        available[char] = available.getOrDefault(char, 0) + 1
    for char in note:
        if available.get(char, 0) <= 0:
            return False
        available[char] -= 1
    return True
