"""One exception type for every user-facing mistake, and the one boundary that turns library errors into it.

Every entry point (``load_model``, ``load_corpus``, the probes, ``--model hf-mi``, the request
handler lm-eval calls, the ``mi-tasks`` command, the MTEB encoder) runs its work inside
:class:`translate_errors`, told what the user gave and how to fix it. An exception from the
libraries underneath (transformers, safetensors, torch, tokenizers, ``datasets``, ``str.format``)
then reaches the user as one :class:`MiTasksError` line: what was given, the library's own first
line, the fix. Translation goes by exception family and origin, never by a list of known cases, so
a new kind of bad input needs no new code. The library error stays chained (``__cause__``) for
debugging; errors raised by mi-tasks' own code with a bug's type (``TypeError``, ``AttributeError``,
``AssertionError``, ...) are not translated, so bugs stay visible as tracebacks.
"""
from __future__ import annotations

import contextlib
import sys
from types import TracebackType


class MiTasksError(ValueError):
    """Bad input or configuration; the message names the problem and how to fix it."""


# Families whose every member says "the input was wrong" wherever it is raised.
_INPUT_FAMILIES: tuple[type[BaseException], ...] = (OSError, ValueError, LookupError, RuntimeError, ImportError,
                                                    EOFError)
_OWN_PACKAGE = __name__.partition(".")[0]
_MAX_LIBRARY_TEXT = 240


def one_line(text: object, limit: int = _MAX_LIBRARY_TEXT) -> str:
    """``text`` on one line, cut at ``limit`` characters (library messages can be pages long)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _raised_in_library(exc: BaseException, tb: TracebackType | None) -> bool:
    """Whether ``exc`` comes from the libraries underneath: its class or its innermost frame is theirs."""
    if type(exc).__module__ not in ("builtins", "exceptions") and not type(exc).__module__.startswith(_OWN_PACKAGE):
        return True
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    return not (module == _OWN_PACKAGE or module.startswith(_OWN_PACKAGE + "."))


def is_user_facing(exc: BaseException, tb: TracebackType | None = None) -> bool:
    """An exception that bad input explains (translate it), as opposed to a bug in mi-tasks (let it show)."""
    if isinstance(exc, MiTasksError) or not isinstance(exc, Exception):
        return False
    return isinstance(exc, _INPUT_FAMILIES) or _raised_in_library(exc, tb if tb is not None else exc.__traceback__)


def translated(exc: BaseException, given: str, fix: str) -> MiTasksError:
    """The one-line error for ``exc``: what the user gave, the library's first words, the fix."""
    detail = one_line(exc) or "(no message)"
    return MiTasksError(f"{given}: {type(exc).__name__}: {detail}; {fix}")


class translate_errors(contextlib.ContextDecorator):
    """Context manager and decorator: library errors inside become one :class:`MiTasksError` line.

    ``given`` names what the user gave (``"cannot load model '/models/x'"``) and ``fix`` what to do;
    ``also`` adds exception families that inside this boundary can only come from the input (any
    error of ``str.format`` on a user's template). A :class:`MiTasksError` raised inside passes
    unchanged, so inner boundaries (which know more) win over outer ones.
    """

    def __init__(self, given: str, fix: str = "check this input (the library's message above names what it rejected)",
                 also: tuple[type[Exception], ...] = ()) -> None:
        self.given, self.fix, self.also = given, fix, also  # also: families that here can only mean bad input

    def __enter__(self) -> "translate_errors":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        if exc is None or isinstance(exc, MiTasksError):
            return False
        if not (isinstance(exc, self.also) or is_user_facing(exc, tb)):
            return False
        raise translated(exc, self.given, self.fix) from exc


def mi_error_in(exc: BaseException | None) -> MiTasksError | None:
    """The :class:`MiTasksError` behind ``exc`` (itself, or what it was raised from or during), if any."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, MiTasksError):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def print_error(exc: MiTasksError) -> None:
    """The command line's form of an error: one ``mi-tasks: error:`` line on stderr."""
    print(f"mi-tasks: error: {one_line(exc, limit=2000)}", file=sys.stderr)
