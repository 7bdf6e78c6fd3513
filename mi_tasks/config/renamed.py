"""Keyword and attribute names renamed to the task YAML's, kept working for one release with a warning."""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from ..errors import MiTasksError


def _warn(owner: str, old: str, new: str, what: str) -> None:
    warnings.warn(f"{owner}: the {what} {old!r} is deprecated and goes in the next release; use {new!r} "
                  f"(the name task YAMLs use)", DeprecationWarning, stacklevel=3)


def renamed_keywords(**renames: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate ``__init__`` (or a function) so that old keyword ``old=`` still works as ``new=``.

    ``@renamed_keywords(max_length="max_text_length")``: passing ``max_length=`` warns
    (DeprecationWarning naming the new keyword) and passes the value on as ``max_text_length``;
    passing both is an error.
    """
    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        owner = func.__qualname__.removesuffix(".__init__")

        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise MiTasksError(f"{owner}: give {new}= only ({old}= is its old name), not both")
                    _warn(owner, old, new, "keyword")
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)
        return inner
    return wrap


def renamed_attribute(old: str, new: str) -> property:
    """A read-only property ``old`` that warns and returns attribute ``new`` (for one release)."""
    def get(self: Any) -> Any:
        _warn(type(self).__name__, old, new, "attribute")
        return getattr(self, new)
    return property(get, doc=f"Deprecated name of ``{new}``.")
