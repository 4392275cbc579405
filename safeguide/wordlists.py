"""Word lists written as one space-separated string, so long lists stay readable (and ruff keeps them)."""


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())
