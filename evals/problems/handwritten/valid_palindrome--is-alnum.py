"""Valid Palindrome: ignoring case and everything but letters and digits."""


def is_palindrome_text(text: str) -> bool:
    cleaned = [char.lower() for char in text if char.is_alnum()]
    return cleaned == cleaned[::-1]
