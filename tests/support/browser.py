"""The console's real-browser tests (issue 16): Debian's Chromium driven by Playwright
(`playwright install` is never run: browser downloads are not reachable), skipped with the
reason where /usr/bin/chromium is missing (`make browser` installs it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.console import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = os.environ.get("CONSOLE_SCREENSHOTS", "")  # set by `make console-screenshots`

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no /usr/bin/chromium: `make browser` (apt-get install -y chromium) runs these tests",
)


def shot(page: Any, name: str) -> None:
    """`var/screenshots/console-<name>.png` under `make console-screenshots`."""
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"console-{name}.png"), full_page=True)


def sign_in_page(page: Any, url: str, login: str) -> None:
    """The sign-in form, filled and sent (a TOTP step, if any, is the caller's)."""
    page.goto(f"{url}/console/")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
