"""Keyboard Row: the words typed with letters of one keyboard row."""

ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def find_words(words: list[str]) -> list[str]:
    result: list[str] = []
    for word in words:
        letters = set(word.lower())
        for row in ROWS:
            if letters <= set(row):
                result.append(word)
                break
    return result


# --- tests ---
def test_find_words():
    assert find_words(["Hello", "Alaska", "Dad", "Peace"]) == ["Alaska", "Dad"]
    assert find_words(["omk"]) == []
    assert find_words(["adsdf", "sfd"]) == ["adsdf", "sfd"]
