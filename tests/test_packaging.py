"""The wheel installs and works away from the checkout (issue 15, acceptance 4): built from a
copy of the sources, installed into a fresh virtual environment, then `gateway db upgrade`,
`gateway demo` and `gateway ledger check` run from another directory on a new SQLite file.

To stay fast (and offline), the fresh environment borrows the dependencies of the project's
.venv through a .pth line, which adds that directory to sys.path without running its own .pth
files: the project's editable install is therefore not importable there, only the wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "gateway", "worker", "migrations", "deploy")
SHARE = "share/mutual-gateway"


def copy_sources(into: Path) -> Path:
    """The files a build reads, without caches or the checkout's build/ leftovers."""
    into.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        else:
            shutil.copy2(source, into / name)
    return into


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    src = copy_sources(base / "src")
    pip = [sys.executable, "-m", "pip"]
    run([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(base), "."], src)
    (built,) = base.glob("mutual_gateway-*.whl")
    return built


def test_the_wheel_ships_migrations_gunicorn_config_and_license(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    data = f"mutual_gateway-0.1.0.data/data/{SHARE}"
    versions = sorted(p.name for p in (ROOT / "migrations" / "versions").glob("*.py"))
    assert f"{data}/migrations/env.py" in names
    assert f"{data}/migrations/script.py.mako" in names
    assert all(f"{data}/migrations/versions/{v}" in names for v in versions)
    assert f"{data}/deploy/gunicorn.conf.py" in names
    assert "mutual_gateway-0.1.0.dist-info/licenses/LICENSE" in names


def test_the_wheel_ships_the_console_templates_and_stylesheet(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = sorted((ROOT / "gateway" / "templates" / "console").glob("*.html"))
    assert templates and all(f"gateway/templates/console/{t.name}" in names for t in templates)
    assert "gateway/static/console/console.css" in names


def test_the_sdist_ships_migrations_gunicorn_config_and_license(tmp_path: Path) -> None:
    src = copy_sources(tmp_path / "src")
    code = "import sys; from setuptools import build_meta as b; print(b.build_sdist(sys.argv[1]))"
    name = run([sys.executable, "-c", code, str(tmp_path)], src).strip().splitlines()[-1]
    with tarfile.open(tmp_path / name) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {"LICENSE", "migrations/env.py", "deploy/gunicorn.conf.py"} <= names
    assert "migrations/versions/0001_initial_schema.py" in names


def test_the_installed_wheel_migrates_loads_the_demo_and_checks_the_ledger(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                    tmp_path).strip())  # fmt: skip
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    install = ["install", "-q", "--no-deps", "--ignore-installed", "--no-index", "--no-compile"]
    run([*pip, *install, str(wheel)], tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    drop = ("DATABASE_URL", "REDIS_URL", "GATEWAY_ENV", "GATEWAY_VAR_DIR", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'gw.db'}", "GATEWAY_ENV": "test"}
    where = run([str(python), "-c", "import gateway; print(gateway.__file__)"], elsewhere, env)
    assert Path(where.strip()).is_relative_to(env_dir), where  # the wheel, not the checkout
    gateway = str(env_dir / "bin" / "gateway")
    refused = subprocess.run(
        [gateway, "ledger", "check"], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1 and "run `gateway db upgrade`" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert "database at" in run([gateway, "db", "upgrade"], elsewhere, env)
    assert "PIN" in run([gateway, "demo"], elsewhere, env)
    run([gateway, "ledger", "check"], elsewhere, env)
    assert not (elsewhere / "var").exists()
