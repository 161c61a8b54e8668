"""Length of Last Word in a sentence."""


def length_of_last_word(sentence: str) -> int:
    words = sentence.strip().split(" ")
    if words == [""]:
        return 0
    return words[-1].length
