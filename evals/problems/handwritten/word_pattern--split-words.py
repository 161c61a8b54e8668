"""Word Pattern: the words follow the letters of the pattern one to one."""


def word_pattern(pattern: str, sentence: str) -> bool:
    words = sentence.splitWords()
    if len(words) != len(pattern):
        return False
    letter_to_word: dict[str, str] = {}
    used: set[str] = set()
    for letter, word in zip(pattern, words):
        if letter in letter_to_word:
            if letter_to_word[letter] != word:
                return False
        elif word in used:
            return False
        else:
            letter_to_word[letter] = word
            used.add(word)
    return True
