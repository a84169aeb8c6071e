"""Text that can be encoded: JSON may carry a lone UTF-16 surrogate (``"\\ud800"``), which
is valid JSON but not Unicode text, and fails later in a tokenizer or an encoder. Requests
refuse it at the door (a 422 naming the field) so nothing downstream sees it."""

from __future__ import annotations

from typing import Any


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a code point that UTF-8 cannot encode (a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def lone_surrogate_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string in ``value`` (nested dicts, lists) holding a lone
    surrogate, ``""`` for ``value`` itself, or None when all of it is encodable text."""
    if isinstance(value, str):
        return path if has_lone_surrogate(value) else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and has_lone_surrogate(key):
            return f"{path}.{key!r}".lstrip(".")
        found = lone_surrogate_path(item, f"{path}.{key}".lstrip("."))
        if found is not None:
            return found
    return None


def reject_lone_surrogates(data: Any) -> Any:
    """A ``model_validator(mode="before")`` body: raise ValueError naming the field."""
    found = lone_surrogate_path(data)
    if found is not None:
        where = found or "the body"
        raise ValueError(f"{where} holds a lone UTF-16 surrogate, which is not valid Unicode text")
    return data
