"""The layering rules of architecture.md, read from the source with ast, and no I/O at import."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.source_scan import imports_of, source_modules

# Process entry points may start the worker: `gateway worker` is the one place that does.
WORKER_LAUNCHERS = {"gateway.cli.serve"}

WEB = ("flask", "werkzeug")
ABOVE_SERVICES = ("gateway.handlers", "gateway.menus", "gateway.app", "gateway.cli")
# (layer, forbidden import prefixes): imports flow handlers -> menus -> services -> models.
# The domain owns its ports (menus: the USSD engine's; services: SMS and payments) and never
# imports the adapters in gateway.providers that implement them.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gateway.services", (*WEB, "rq", *ABOVE_SERVICES, "worker", "gateway.providers")),
    ("gateway.models", (*WEB, "rq", "gateway.services", *ABOVE_SERVICES, "worker")),
    (
        "gateway.menus",
        ("gateway.handlers", "gateway.app", "gateway.cli", "rq", "worker", "gateway.providers"),
    ),
    ("gateway.handlers", ("gateway.cli", "rq", "worker")),
    ("gateway.providers", ("flask", "gateway.handlers", "gateway.menus", "gateway.cli")),
    ("gateway", ("worker",)),
    ("worker", ("flask", "gateway.handlers", "gateway.menus", "gateway.app", "gateway.cli")),
)
# A port that a layer's adapters implement although the rest of its package is forbidden to
# them: a USSD adapter builds the engine's request, and nothing else of the menus.
PORTS: dict[str, tuple[str, ...]] = {"gateway.providers": ("gateway.menus.engine.port",)}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


# Capabilities of gateway.services by rank (architecture.md): a capability imports only lower
# ranks; the cross-cutting modules (alerts, ussd_audit) are rank 0.
RANKS: dict[str, int] = {
    "alerts": 0,
    "operators": 0,
    "ussd_audit": 0,
    "ledger": 1,
    "coverage": 2,
    "messaging": 3,
    "mutuals": 4,
    "members": 4,
    "agents": 5,
    "payments": 5,
    "reminders": 5,
    "notices": 5,
    "reconciliation": 6,
    "reports": 7,
    "indicators": 7,
}
SERVICES = "gateway.services"
# Layers where the caller owns the transaction, so a commit is a bug (architecture.md).
NO_COMMIT = ("gateway.services", "gateway.menus")


def layering(modules: dict[str, Path]) -> list[str]:
    """Imports that cross the layers of architecture.md the wrong way."""
    problems = []
    for name, path in modules.items():
        imported = imports_of(name, path)
        for layer, forbidden in RULES:
            if not _within(name, layer):
                continue
            for target in sorted(imported):
                if any(_within(target, f) for f in forbidden):
                    if _within(target, "worker") and name in WORKER_LAUNCHERS:
                        continue
                    if any(_within(target, port) for port in PORTS.get(layer, ())):
                        continue
                    problems.append(f"{name} imports {target} (rule for {layer})")
    return sorted(set(problems))


def lib_imports(modules: dict[str, Path]) -> list[str]:
    """gateway.lib holds no domain: it imports nothing else of the gateway."""
    return sorted(
        f"{name} imports {target} (gateway.lib imports nothing of gateway)"
        for name, path in modules.items()
        if _within(name, "gateway.lib")
        for target in imports_of(name, path)
        if _within(target, "gateway") and not _within(target, "gateway.lib")
    )


def capability_of(name: str) -> str | None:
    """The capability (or cross-cutting module) of gateway.services that `name` is in."""
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and _within(name, SERVICES) else None


def capability_ranks(modules: dict[str, Path]) -> list[str]:
    """A capability never imports one of a higher rank; every capability has a rank."""
    problems = []
    for name, path in modules.items():
        mine = capability_of(name)
        if mine is None:
            continue
        if mine not in RANKS:
            problems.append(f"{name}: capability {mine!r} has no rank in RANKS")
            continue
        for target in sorted(imports_of(name, path)):
            theirs = capability_of(target)
            if theirs and theirs != mine and RANKS.get(theirs, 99) >= RANKS[mine]:
                problems.append(f"{name} imports {target} (rank {RANKS[mine]} -> higher or equal)")
    return sorted(set(problems))


def private_imports(modules: dict[str, Path]) -> list[str]:
    """Outside a capability only its package is imported, never one of its modules."""
    problems = []
    for name, path in modules.items():
        for target in sorted(imports_of(name, path)):
            theirs = capability_of(target)
            inner = ".".join(target.split(".")[:4]) if target.count(".") >= 3 else ""
            if theirs and theirs != capability_of(name) and inner in modules:
                problems.append(f"{name} imports {inner} (use {SERVICES}.{theirs})")
    return sorted(set(problems))


def renamed_imports(modules: dict[str, Path]) -> list[str]:
    """No module of the project is imported under another name (`import x as y`); re-exports
    (`import X as X`) are not renames."""
    problems = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                pairs = [(a.name, a.asname) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                pairs = [(f"{node.module}.{a.name}", a.asname) for a in node.names]
            else:
                continue
            for target, alias in pairs:
                if alias and target in modules and alias != target.rpartition(".")[2]:
                    problems.append(f"{name} imports {target} as {alias}")
    return sorted(problems)


def commits(modules: dict[str, Path]) -> list[str]:
    """Services and menus never commit: the request, job or command owns the transaction."""
    return sorted(
        f"{name} calls .commit("
        for name, path in modules.items()
        if any(_within(name, layer) for layer in NO_COMMIT)
        and ".commit(" in path.read_text(encoding="utf-8")
    )


Check = Callable[[dict[str, Path]], list[str]]
CHECKS: tuple[Check, ...] = (
    layering,
    lib_imports,
    capability_ranks,
    private_imports,
    renamed_imports,
    commits,
)


def violations(modules: dict[str, Path] | None = None) -> list[str]:
    found = source_modules() if modules is None else modules
    return [problem for check in CHECKS for problem in check(found)]


def test_imports_flow_one_way() -> None:
    assert violations() == []


def test_the_scan_sees_the_code() -> None:
    modules = source_modules()
    assert {"gateway.app", "gateway.settings", "worker.jobs", "worker.schedule"} <= set(modules)
    assert "gateway.settings" in imports_of("gateway.app", modules["gateway.app"])


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    fake = tmp_path / "x.py"
    fake.write_text("from . import ledger\nfrom ..models import Mutual\nimport flask.json\n")
    found = imports_of("gateway.services.x", fake)
    assert {"gateway.services.ledger", "gateway.models.Mutual", "flask.json"} <= found


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


PLANTED = {
    "layering": ("gateway.services.x", "import flask\n"),
    "lib_imports": ("gateway.lib.x", "from gateway.models import Mutual\n"),
    "capability_ranks": ("gateway.services.ledger.x", "from gateway.services import payments\n"),
    "private_imports": (
        "gateway.menus.x",
        "from gateway.services.coverage.book import load_book\n",
    ),
    "renamed_imports": ("gateway.menus.x", "from gateway.menus.journeys import samples as S\n"),
    "commits": ("gateway.services.x", "def f(session):\n    session.commit()\n"),
}


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_each_rule_catches_a_planted_violation(check: Check, tmp_path: Path) -> None:
    """Each rule, given the real code plus one planted module that breaks it, names that
    module; the real code alone passes it."""
    modules = source_modules()
    assert check(modules) == []
    name, source = PLANTED[check.__name__]
    planted = tmp_path / "planted.py"
    planted.write_text(source, encoding="utf-8")
    found = check({**modules, name: planted})
    assert found and all(problem.startswith(name) for problem in found), found


# PLANTED holds one case per check; layering's rules on the ports (the domain never imports an
# adapter, an adapter imports only the port of the menus) get one case each here.
LAYERING_PLANTED = {
    "services import an adapter": (
        "gateway.services.payments.x",
        "from gateway.providers.payments.sandbox import SandboxProvider\n",
    ),
    "services import the adapters' package": ("gateway.services.x", "import gateway.providers\n"),
    "menus import an adapter": (
        "gateway.menus.x",
        "from gateway.providers.africastalking.ussd import AfricasTalkingUssd\n",
    ),
    "an adapter imports the menus beyond their port": (
        "gateway.providers.africastalking.x",
        "from gateway.menus.hop import Engine\n",
    ),
}


@pytest.mark.parametrize("case", LAYERING_PLANTED)
def test_layering_catches_each_planted_violation(case: str, tmp_path: Path) -> None:
    """The real code passes; one planted module breaking one rule is named."""
    name, source = LAYERING_PLANTED[case]
    planted = tmp_path / "planted.py"
    planted.write_text(source, encoding="utf-8")
    found = layering({**source_modules(), name: planted})
    assert found and all(problem.startswith(name) for problem in found), found


def test_an_adapter_may_import_the_port_it_implements(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("from gateway.menus.engine.port import UssdRequest\n", encoding="utf-8")
    assert layering({**source_modules(), "gateway.providers.x": planted}) == []
