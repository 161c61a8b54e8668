"""License Key Formatting: groups of k upper-case characters separated by dashes."""


def license_key(key: str, group: int) -> str:
    cleaned = key.replace("-", "").upcase()
    head = len(cleaned) % group or group
    parts = [cleaned[:head]]
    for start in range(head, len(cleaned), group):
        parts.append(cleaned[start:start + group])
    return "-".join(part for part in parts if part)
