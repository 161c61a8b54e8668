"""Length of Last Word in a sentence."""


def length_of_last_word(sentence: str) -> int:
    words = sentence.strip().split(" ")
    if words == [""]:
        return 0
    return len(words[-1])


# --- tests ---
def test_length_of_last_word():
    assert length_of_last_word("Hello World") == 5
    assert length_of_last_word("   fly me   to   the moon  ") == 4
    assert length_of_last_word("luffy is still joyboy") == 6
    assert length_of_last_word("   ") == 0
