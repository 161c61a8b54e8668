"""First Unique Character in a string: its index, or -1."""


def first_unique_char(text: str) -> int:
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    for index, char in enumerate(text):
        if counts[char] == 1:
            return index
    return -1


# --- tests ---
def test_first_unique_char():
    assert first_unique_char("leetcode") == 0
    assert first_unique_char("loveleetcode") == 2
    assert first_unique_char("aabb") == -1
