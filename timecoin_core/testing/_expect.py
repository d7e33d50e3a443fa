"""What the conformance suites use instead of pytest: they must run without it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["raises"]


@contextmanager
def raises(expected: type[BaseException] | tuple[type[BaseException], ...]) -> Iterator[None]:
    """Fail with ``AssertionError`` unless the block raises ``expected``."""
    try:
        yield
    except expected:
        return
    names = expected.__name__ if isinstance(expected, type) else " or ".join(e.__name__ for e in expected)
    raise AssertionError(f"expected {names} to be raised")
