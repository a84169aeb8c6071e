"""Time in words: turns that mention a time, questions that ask for one or name a period
(memory layer, pure logic, English).

A question that asks "when" is best answered by a turn that says when ("last Saturday",
"two weeks ago", "in May"), and a question that names a period ("in 2022", "in May 2023")
by memories written in it: a memory's ``created_at`` is when it was said, which for a
conversation is the session's date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_MONTHS_TEXT = (
    "january february march april may june july august september october november december"
)
MONTHS = tuple(_MONTHS_TEXT.split())
_MONTH_NUMBERS = {name: number for number, name in enumerate(MONTHS, start=1)}
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_UNITS = r"(?:day|night|week|weekend|month|year|summer|winter|spring|fall|autumn)s?"
_COUNT = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|few|couple of)"

_MENTIONS_TIME = re.compile(
    r"\b(?:"
    r"yesterday|today|tonight|tomorrow|recently|lately|ago|"
    rf"(?:last|next|this|past|coming|every) {_UNITS}|"
    rf"(?:last|next|this) (?:{_WEEKDAYS})|"
    rf"{_WEEKDAYS}|"
    rf"{_COUNT} {_UNITS} (?:ago|back|before|later)|"
    rf"{'|'.join(MONTHS)}|"
    r"(?:19|20)\d\d"
    r")\b",
    re.IGNORECASE,
)
# "May" is also a verb: a month name counts in a question only after "in", "of", "on",
# "since", "during", "early", "late", "mid" or "by", or before a year. (A turn's own
# mention of time is looser: there "may" still counts, a cost measured as small.)
_MONTH_IN_QUESTION = re.compile(
    r"\b(?:(?:in|of|on|since|during|early|late|mid|by)\s+(?P<a>"
    + "|".join(MONTHS)
    + r")(?:\s+(?P<ya>(?:19|20)\d\d))?|(?P<b>"
    + "|".join(MONTHS)
    + r")\s+(?P<yb>(?:19|20)\d\d))\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(?:in|of|during|since|by)\s+((?:19|20)\d\d)\b", re.IGNORECASE)
_ASKS_WHEN = re.compile(
    r"\bwhen\b|\bwhat (?:year|month|date|day|time|week)\b|\bhow long ago\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Period:
    """A half-open span of time named by a question: ``start <= t < end``."""

    start: datetime
    end: datetime

    def holds(self, when: datetime, slack: timedelta = timedelta(0)) -> bool:
        """Whether ``when`` falls in the period, or up to ``slack`` after it (what happened
        in a period is often told in the next conversation)."""
        return self.start <= when < self.end + slack


def mentions_time(text: str) -> bool:
    """Whether ``text`` says when something happened (a date, a weekday, "last week")."""
    return _MENTIONS_TIME.search(text) is not None


def asks_when(question: str) -> bool:
    """Whether ``question`` asks for a time ("when", "what year", "how long ago")."""
    return _ASKS_WHEN.search(question) is not None


def named_period(question: str) -> Period | None:
    """The period a question names with a year ("in 2022", "in May 2023", "May 2023");
    a month without a year names no period (it could be any year's)."""
    month = _MONTH_IN_QUESTION.search(question)
    if month is not None:
        name = (month.group("a") or month.group("b")).lower()
        year = month.group("ya") or month.group("yb")
        if year is not None:
            start = datetime(int(year), _MONTH_NUMBERS[name], 1, tzinfo=UTC)
            following = (start + timedelta(days=32)).replace(day=1)
            return Period(start, following)
    year_only = _YEAR.search(question)
    if year_only is not None:
        year = int(year_only.group(1))
        return Period(datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))
    return None
