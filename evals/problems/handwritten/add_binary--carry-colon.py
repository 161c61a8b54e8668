"""Add Binary: the sum of two binary strings."""


def add_binary(first: str, second: str) -> str:
    result: list[str] = []
    carry = 0
    i, j = len(first) - 1, len(second) - 1
    while i >= 0 or j >= 0 or carry  # digits left, or a carry
        total = carry
        if i >= 0:
            total += int(first[i])
            i -= 1
        if j >= 0:
            total += int(second[j])
            j -= 1
        result.append(str(total % 2))
        carry = total // 2
    return "".join(reversed(result)) or "0"
