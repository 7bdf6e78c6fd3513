"""A headless Chromium for page tests: Debian's ``chromium`` driven by Playwright's Python package.

Playwright's own browser download cannot run on these machines, so the browser is the binary the
``chromium`` package installs (CI and README's set-up install it). Without it the tests skip, saying why.
"""
from __future__ import annotations

import importlib.util
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
        "--no-first-run"]


def chromium_or_skip() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium): the page tests drive it")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed: pip install -c requirements/lock.txt '.[test]'")
    return path


@contextmanager
def chromium(path: str) -> Iterator[Any]:
    """A launched headless browser; closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Any, index: Path, width: int = 1280, url: str | None = None) -> tuple[Any, list[str]]:
    """``index`` (or ``url``, a view of it) opened from disk; the list collects console errors, page errors,
    dialogs (alert) and requests for anything but local files and downloads made in the page as text."""
    page = browser.new_page(viewport={"width": width, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("request", lambda r: problems.append(f"network: {r.url}") if not r.url.startswith(("file://", "blob:")) else None)
    page.goto(url or index.resolve().as_uri())
    page.wait_for_function("() => window.MI_BOARD_TIMINGS && window.MI_BOARD_TIMINGS.ready_ms > 0")
    return page, problems
