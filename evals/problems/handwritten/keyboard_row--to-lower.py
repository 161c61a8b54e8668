"""Keyboard Row: the words typed with letters of one keyboard row."""

ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def find_words(words: list[str]) -> list[str]:
    result: list[str] = []
    for word in words:
        letters = set(word.lowercase())
        for row in ROWS:
            if letters <= set(row):
                result.append(word)
                break
    return result
