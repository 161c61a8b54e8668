"""License Key Formatting: groups of k upper-case characters separated by dashes."""


def license_key(key: str, group: int) -> str:
    cleaned = key.replace("-", "").upper()
    head = len(cleaned) % group or group
    parts = [cleaned[:head]]
    for start in range(head, len(cleaned), group):
        parts.append(cleaned[start:start + group])
    return "-".join(part for part in parts if part)


# --- tests ---
def test_license_key():
    assert license_key("5F3Z-2e-9-w", 4) == "5F3Z-2E9W"
    assert license_key("2-5g-3-J", 2) == "2-5G-3J"
    assert license_key("---", 3) == ""
