"""Streaming text helpers shared by engines: stop strings and safe incremental output.

Pure Python. Engines decode the whole completion so far after each token and feed it
here; this decides how much of it may be sent without ever sending a stop string, a
prefix of one that may still complete, or a half-decoded UTF-8 character.
"""

from __future__ import annotations

from echoray.errors import ContextLengthExceededError, InvalidRequestError

_REPLACEMENT = "\ufffd"  # what a tokenizer yields for an incomplete UTF-8 sequence


class StopStringStream:
    """Tracks emitted text for one sequence and enforces its stop strings."""

    def __init__(self, stops: tuple[str, ...] | list[str] = ()) -> None:
        self._stops = tuple(s for s in stops if s)
        self._longest = max((len(s) for s in self._stops), default=0)
        self._emitted = 0
        self.stopped = False
        self.text = ""

    def feed(self, text: str) -> str:
        """Take the full completion text so far; return the new text safe to send.

        After a stop string is seen, ``stopped`` is True and the text before it is the
        final completion (``self.text``).
        """
        if self.stopped:
            return ""
        search_from = max(0, self._emitted - self._longest)
        hits = [i for s in self._stops if (i := text.find(s, search_from)) != -1]
        if hits:
            end = min(hits)
            self.stopped = True
            return self._emit(text, end)
        end = len(text) - self._held_back(text)
        return self._emit(text, max(end, self._emitted))

    def flush(self, text: str) -> str:
        """The sequence ended (EOS or length): send everything not yet sent."""
        if self.stopped:
            return ""
        return self._emit(text, len(text))

    def _emit(self, text: str, end: int) -> str:
        new = text[self._emitted : end]
        self._emitted = end
        self.text = text[:end]
        return new

    def _held_back(self, text: str) -> int:
        """Characters at the end of ``text`` that must wait for more tokens."""
        held = 0
        while held < len(text) and text[len(text) - 1 - held] == _REPLACEMENT:
            held += 1
        tail = text[: len(text) - held]
        for size in range(min(self._longest - 1, len(tail)), 0, -1):
            suffix = tail[-size:]
            if any(stop.startswith(suffix) for stop in self._stops):
                return held + size
        return held


def check_context_length(prompt_tokens: int, max_tokens: int, max_model_len: int) -> None:
    """Raise ``InvalidRequestError`` for an empty prompt (nothing to continue from: the
    engines would fail on it) and ``ContextLengthExceededError`` saying by how much the
    request is too long."""
    if prompt_tokens == 0:
        raise InvalidRequestError(
            "The prompt is empty: send at least one token of text.", param="prompt"
        )
    needed = prompt_tokens + max_tokens
    if needed > max_model_len:
        raise ContextLengthExceededError(
            f"This model's maximum context length is {max_model_len} tokens. The request "
            f"needs {needed} ({prompt_tokens} in the prompt + {max_tokens} max_tokens), "
            f"{needed - max_model_len} too many. Shorten the messages or lower max_tokens.",
            param="messages",
        )
