"""A cache that empties itself whenever the IAM store has committed a write.

The request path asks "whose key is this?" and "what may they do?" on every call; both
answers change only when IAM state does, which the store signals by bumping its
`generation` after each commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakestack.services.iam.store import IamStore


_MISSING = object()


class GenerationCache:
    def __init__(self, store: IamStore, max_entries: int = 10_000):
        self._store = store
        self._max = max_entries
        self._lock = threading.Lock()
        self._data: dict[Hashable, Any] = {}
        self._generation = store.generation

    def get_or_load(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The cached value for key, else load() — cached unless IAM changed meanwhile.

        `load` may return None (nothing found); None is not cached, so a key created a
        moment later is found on the next call.
        """
        generation = self._store.generation  # before loading: a write after this wins
        if self._generation == generation:
            # The common case, without the lock: entries are only ever added for the current
            # generation, and a new generation empties the dict before it is recorded.
            value = self._data.get(key, _MISSING)
            if value is not _MISSING:
                return value
        with self._lock:
            if self._generation != generation:
                self._data.clear()
                self._generation = generation
            if key in self._data:
                return self._data[key]
        value = load()
        if value is None:
            return None
        with self._lock:
            if self._generation == generation == self._store.generation:
                if len(self._data) >= self._max:
                    self._data.clear()
                self._data[key] = value
        return value
