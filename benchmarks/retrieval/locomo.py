"""The LoCoMo loader, now in ``echoray.evaluation.locomo`` (re-exported for the benchmark)."""

from echoray.evaluation.locomo import (
    ADVERSARIAL_CATEGORY,
    CATEGORY_NAMES,
    Memory,
    Question,
    Sample,
    load_locomo,
    parse_locomo,
    parse_sample,
    parse_session_date,
    session_times,
)

__all__ = [
    "ADVERSARIAL_CATEGORY",
    "CATEGORY_NAMES",
    "Memory",
    "Question",
    "Sample",
    "load_locomo",
    "parse_locomo",
    "parse_sample",
    "parse_session_date",
    "session_times",
]
