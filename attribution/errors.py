"""Errors of the attribution package.

AttributionError              base
+-- UnknownModel              a model name that is not one of ``MODELS``; ``name`` and ``known``
+-- UnknownGrouping           a group-by that is not one of ``GROUPINGS``; ``name`` and ``known``
+-- ModelTooLarge             a Markov chain with more transient states than can be solved exactly in memory;
                              ``states`` and ``limit`` (use a lower order)
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["AttributionError", "ModelTooLarge", "UnknownGrouping", "UnknownModel"]


class AttributionError(Exception):
    """Base of the attribution errors."""


class UnknownModel(AttributionError):
    """Raised when a model name is not known."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = tuple(known)
        super().__init__(f"unknown attribution model {name!r}; known: {', '.join(self.known)}")


class UnknownGrouping(AttributionError):
    """Raised when a group-by is not known."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = tuple(known)
        super().__init__(f"unknown grouping {name!r}; known: {', '.join(self.known)}")


class ModelTooLarge(AttributionError):
    """Raised when an exact Markov solve would need more states than ``limit``."""

    def __init__(self, states: int, limit: int) -> None:
        self.states = states
        self.limit = limit
        super().__init__(
            f"the Markov chain has {states} transient states, more than the {limit} solved exactly; use a lower order"
        )
