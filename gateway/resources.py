"""Files shipped beside the package rather than in it: Alembic's `migrations/` and the gunicorn
config of `deploy/` (issue 15).

A checkout (or an editable install) reads them from the project's top-level folders; an
installed wheel carries them as data files under `<prefix>/share/mutual-gateway/`
(pyproject.toml, [tool.setuptools.data-files]), so `gateway db upgrade` works from anywhere."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

SHARE = Path("share") / "mutual-gateway"
CHECKOUT = Path(__file__).resolve().parent.parent


def candidates(relative: str) -> list[Path]:
    """Where `relative` may be, best first: the checkout, then each installation prefix."""
    prefixes = [Path(sysconfig.get_paths()["data"]), Path(sys.prefix)]
    return [CHECKOUT / relative, *(prefix / SHARE / relative for prefix in prefixes)]


def project_path(relative: str) -> Path:
    """The first existing copy of `relative` (e.g. "migrations"); the checkout's path when none
    exists, so that an error names where it was looked for first."""
    for path in candidates(relative):
        if path.exists():
            return path
    return CHECKOUT / relative
