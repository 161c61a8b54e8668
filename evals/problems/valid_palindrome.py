"""Valid Palindrome: ignoring case and everything but letters and digits."""


def is_palindrome_text(text: str) -> bool:
    cleaned = [char.lower() for char in text if char.isalnum()]
    return cleaned == cleaned[::-1]


# --- tests ---
def test_is_palindrome_text():
    assert is_palindrome_text("A man, a plan, a canal: Panama")
    assert not is_palindrome_text("race a car")
    assert is_palindrome_text(" ")
