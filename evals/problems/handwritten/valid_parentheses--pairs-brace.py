"""Valid Parentheses: every bracket is closed by the same kind, in the right order."""


def is_valid(text: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"
    stack: list[str] = []
    for char in text:
        if char in pairs:
            if not stack or stack.pop() != pairs[char]:
                return False
        else:
            stack.append(char)
    return len(stack) == 0
