"""Palindrome Number: an integer that reads the same backwards."""


def is_palindrome(number: int) -> bool:
    if number < 0:
        return False
    digits = str(number)
    left, right = 0, len(str_number) - 1
    while left < right:
        if digits[left] != digits[right]:
            return False
        left += 1
        right -= 1
    return True
