"""Short-term memory: the recent turns of each session (memory layer, sessions).

Kept in RAM as a bounded deque per (tenant, user, session) and written through to the
``sessions`` table (one row per turn, numbered by ``seq``) before ``append`` returns, so a
restarted shard loses nothing: a session's turns are read back from LanceDB the first
time it is touched. The table is trimmed to the newest ``max_turns`` rows per session,
every ``max_turns`` appends (so it holds fewer than twice that many).

Short-term turns are not memories: they live in their own table, are not searched, and
become episodic memories only when the pipeline writes them as such.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Protocol

from echoray.errors import PayloadTooLargeError
from echoray.memory.records import Turn, TurnRole, utc_now

SessionKey = tuple[str, str, str]


class TurnStore(Protocol):
    """Where turns are kept durably (``LanceDBStore`` is one)."""

    def append_turns(self, turns: list[Turn]) -> None: ...

    def recent_turns(self, tenant: str, user: str, session: str, limit: int) -> list[Turn]: ...

    def trim_turns(self, tenant: str, user: str, session: str, seq_below: int) -> int: ...

    def delete_session(self, tenant: str, user: str, session: str) -> int: ...


class ShortTermMemory:
    """The last ``max_turns`` turns of every session, persisted."""

    def __init__(self, store: TurnStore, *, max_turns: int = 20, max_chars: int = 32_768) -> None:
        self._store = store
        self.max_turns = max_turns
        self.max_chars = max_chars
        self._sessions: dict[SessionKey, deque[Turn]] = {}
        self._since_trim: dict[SessionKey, int] = {}

    def append(
        self,
        tenant: str,
        user: str,
        session: str,
        role: TurnRole,
        text: str,
        created_at: datetime | None = None,
    ) -> Turn:
        """Add one turn; returns it once it is committed to LanceDB.

        Raises:
            UnprocessableEntityError: malformed tenant, user or session, or unknown role.
            PayloadTooLargeError: ``text`` is longer than ``max_chars``.
        """
        return self.extend(tenant, user, session, [(role, text)], created_at)[0]

    def extend(
        self,
        tenant: str,
        user: str,
        session: str,
        turns: list[tuple[TurnRole, str]],
        created_at: datetime | None = None,
    ) -> list[Turn]:
        """Add several turns of one session in one commit, in order.

        Raises:
            UnprocessableEntityError: malformed tenant, user or session, or unknown role.
            PayloadTooLargeError: a text longer than ``max_chars``.
        """
        for _, text in turns:
            if len(text) > self.max_chars:
                raise PayloadTooLargeError(
                    f"turn text is {len(text)} characters; at most {self.max_chars}",
                    param="text",
                )
        key = (tenant, user, session)
        recent = self._load(key)
        first = recent[-1].seq + 1 if recent else 0
        moment = created_at or utc_now()
        new = [
            Turn.build(
                tenant=tenant,
                user=user,
                session=session,
                seq=first + offset,
                role=role,
                text=text,
                created_at=moment,
            )
            for offset, (role, text) in enumerate(turns)
        ]
        if not new:
            return []
        self._store.append_turns(new)
        recent.extend(new)
        self._since_trim[key] = self._since_trim.get(key, 0) + len(new)
        if self._since_trim[key] >= self.max_turns:
            self._store.trim_turns(tenant, user, session, recent[0].seq)
            self._since_trim[key] = 0
        return new

    def recent(self, tenant: str, user: str, session: str, n: int | None = None) -> list[Turn]:
        """The last ``n`` (default all kept) turns of a session, oldest first.

        Raises:
            UnprocessableEntityError: malformed tenant, user or session.
        """
        turns = list(self._load((tenant, user, session)))
        return turns if n is None else turns[-n:] if n > 0 else []

    def forget(self, tenant: str, user: str, session: str) -> int:
        """Delete a session's turns, in RAM and in LanceDB; returns how many were stored.

        Raises:
            UnprocessableEntityError: malformed tenant, user or session.
        """
        key = (tenant, user, session)
        self._sessions.pop(key, None)
        self._since_trim.pop(key, None)
        return self._store.delete_session(tenant, user, session)

    def drop_user(self, tenant: str, user: str) -> None:
        """Forget a user's sessions in RAM (their rows go with ``LanceDBStore.delete_user``)."""
        for key in [k for k in self._sessions if k[:2] == (tenant, user)]:
            self._sessions.pop(key, None)
            self._since_trim.pop(key, None)

    def _load(self, key: SessionKey) -> deque[Turn]:
        turns = self._sessions.get(key)
        if turns is None:
            stored = self._store.recent_turns(*key, limit=self.max_turns)
            turns = self._sessions[key] = deque(stored, maxlen=self.max_turns)
        return turns
