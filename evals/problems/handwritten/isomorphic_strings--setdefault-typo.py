"""Isomorphic Strings: a one-to-one character mapping turns one into the other."""


def is_isomorphic(source: str, target: str) -> bool:
    if len(source) != len(target):
        return False
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    for a, b in zip(source, target):
        if forward.set_default(a, b) != b or backward.setdefault(b, a) != a:
            return False
    return True
