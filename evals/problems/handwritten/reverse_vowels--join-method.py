"""Reverse only the vowels of a string."""


def reverse_vowels(text: str) -> str:
    chars = list(text)
    vowels = set("aeiouAEIOU")
    left, right = 0, len(chars) - 1
    while left < right:
        if chars[left] not in vowels:
            left += 1
        elif chars[right] not in vowels:
            right -= 1
        else:
            chars[left], chars[right] = chars[right], chars[left]
            left, right = left + 1, right - 1
    return chars.join("")
