"""Name -> factory registries for models and studies (timm's pattern).

A model or study registers itself with a decorator when its module is imported; `list`, the
command line and the tests iterate the registry, so a new one needs no list kept by hand.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from nnstudy.errors import UsageError


class Registry:
    def __init__(self, kind: str):
        self.kind = kind  # "model", "study": used in error messages
        self._items: dict[str, Any] = {}
        self._help: dict[str, str] = {}

    def register(self, name: str, help: str = "") -> Callable:
        def deco(obj):
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            doc = help or (obj.__doc__ or "").strip().splitlines()[0:1]
            self._help[name] = doc if isinstance(doc, str) else (doc[0] if doc else "")
            return obj

        return deco

    def get(self, name: str):
        if name not in self._items:
            close = difflib.get_close_matches(name, self._items, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"unknown {self.kind} {name!r}{hint}; valid: {', '.join(sorted(self._items))}")
        return self._items[name]

    def sort(self, key: Callable) -> None:
        """Reorder the entries by key(obj); names() then lists them in that order. In place: the
        dict stays the same object (tests patch entries in and out of it)."""
        ordered = sorted(self._items.items(), key=lambda kv: key(kv[1]))
        self._items.clear()
        self._items.update(ordered)

    def names(self) -> list[str]:
        return list(self._items)

    def help(self, name: str) -> str:
        return self._help[name]

    def __contains__(self, name: str) -> bool:
        return name in self._items
