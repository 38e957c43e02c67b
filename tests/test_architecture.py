"""The layering rules of architecture.md, read from the source with ast, and no I/O at import."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "worker")

# Process entry points may start the worker: `gateway worker` is the one place that does.
WORKER_LAUNCHERS = {"gateway.cli.serve"}

WEB = ("flask", "werkzeug")
ABOVE_SERVICES = ("gateway.handlers", "gateway.menus", "gateway.app", "gateway.cli")
# (layer, forbidden import prefixes): imports flow handlers -> menus -> services -> models.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gateway.services", (*WEB, "rq", *ABOVE_SERVICES, "worker")),
    ("gateway.models", (*WEB, "rq", "gateway.services", *ABOVE_SERVICES, "worker")),
    ("gateway.menus", ("gateway.handlers", "gateway.app", "gateway.cli", "rq", "worker")),
    ("gateway.handlers", ("gateway.cli", "rq", "worker")),
    ("gateway.providers", ("flask", "gateway.handlers", "gateway.menus", "gateway.cli")),
    ("gateway", ("worker",)),
    ("worker", ("flask", "gateway.handlers", "gateway.menus", "gateway.app", "gateway.cli")),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imports_of(name: str, path: Path) -> set[str]:
    """Every module named by an import statement, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations() -> list[str]:
    problems = []
    for name, path in source_modules().items():
        imported = imports_of(name, path)
        for layer, forbidden in RULES:
            if not _within(name, layer):
                continue
            for target in sorted(imported):
                if any(_within(target, f) for f in forbidden):
                    if _within(target, "worker") and name in WORKER_LAUNCHERS:
                        continue
                    problems.append(f"{name} imports {target} (rule for {layer})")
    return sorted(set(problems))


def test_the_scan_sees_the_code() -> None:
    modules = source_modules()
    assert {"gateway.app", "gateway.settings", "worker.jobs", "worker.schedule"} <= set(modules)
    assert "gateway.settings" in imports_of("gateway.app", modules["gateway.app"])


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    fake = tmp_path / "x.py"
    fake.write_text("from . import ledger\nfrom ..models import Mutual\nimport flask.json\n")
    found = imports_of("gateway.services.x", fake)
    assert {"gateway.services.ledger", "gateway.models.Mutual", "flask.json"} <= found


def test_imports_flow_one_way() -> None:
    assert violations() == []


def test_no_module_does_io_at_import(tmp_path: Path) -> None:
    """Import every module with the database and Redis pointing nowhere and the network off."""
    var_dir = tmp_path / "var"
    script = f"""
import importlib, json, socket, sys
def refuse(*args, **kwargs):
    raise RuntimeError("network I/O at import time")
socket.socket.connect = refuse
socket.create_connection = refuse
failed = {{}}
for name in {sorted(source_modules())!r}:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{{type(exc).__name__}}: {{exc}}"
print(json.dumps(failed))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "GATEWAY_VAR_DIR": str(var_dir),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {}
    assert not var_dir.exists(), "something created var/ at import time"
