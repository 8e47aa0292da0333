"""Fixtures of the live-view tests: a headless Debian chromium (skipped with the reason when absent)."""

from __future__ import annotations

import pytest

from serve_helpers import browser, browser_available


@pytest.fixture(scope="module")
def chromium():
    """A Playwright browser context on /usr/bin/chromium (fresh profile), shared by one module's tests.

    Module scope, not session: Playwright's sync API holds an asyncio loop in the main thread while it
    runs, which other tests (notebooks, dask) must not find there.
    """
    reason = browser_available()
    if reason:
        pytest.skip(reason)
    with browser() as ctx:
        yield ctx
