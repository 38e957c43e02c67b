"""`gateway web`, `gateway worker` and `gateway run` (the embedded all-in-one of `make run`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from types import FrameType

import click
from sqlalchemy import select

from gateway import migrate
from gateway.cli.context import CliContext
from gateway.demo import load_demo
from gateway.models import Mutual
from gateway.resources import project_path
from gateway.safety import check_start
from gateway.settings import SettingsError

pass_ctx = click.make_pass_decorator(CliContext)
DEFAULT_PORT = 8000
STOP_TIMEOUT_S = 20.0
READY_TIMEOUT_S = 30.0
GUNICORN_CONFIG = "deploy/gunicorn.conf.py"  # the checkout's, or the wheel's copy

host_option = click.option("--host", default="127.0.0.1", show_default=True, help="address")
port_option = click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    envvar="GATEWAY_PORT",
    show_default=True,
    help="TCP port (env GATEWAY_PORT)",
)


@click.command("web")
@host_option
@port_option
@pass_ctx
def web(ctx: CliContext, host: str, port: int) -> None:
    """Web process only: the development server, or gunicorn in production."""
    settings = ctx.settings
    _check_start(ctx)
    if settings.production:
        ctx.runtime.close()
        _exec_gunicorn(host, port)
    from werkzeug.serving import run_simple

    from gateway.app import create_app

    app = create_app(settings)
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops as cleanly as Ctrl-C
    click.echo(f"web: http://{host}:{port}/ (development server)")
    run_simple(host, port, app, threaded=True, use_reloader=False)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _exec_gunicorn(host: str, port: int) -> None:
    """Production serves through gunicorn; its config file is used when present."""
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}"]
    config = project_path(GUNICORN_CONFIG)
    if config.is_file():
        argv += ["--config", str(config)]
    os.execv(sys.executable, [*argv, "gateway.app:create_app()"])


@click.command("worker")
@click.option(
    "-q", "--queues", multiple=True, help="queue(s) to work, repeated or comma-separated; all"
)
@click.option("--burst", is_flag=True, help="run what is queued, then exit (no scheduler)")
@pass_ctx
def worker_command(ctx: CliContext, queues: tuple[str, ...], burst: bool) -> None:
    """RQ worker on the gateway's queues, with the periodic scheduler unless --burst."""
    # The CLI is a process entry point, the one place allowed to start the worker package.
    from worker.inprocess import RECYCLE_EXIT
    from worker.main import check_queues, run_worker

    names = [name.strip() for item in queues for name in item.split(",") if name.strip()]
    try:
        chosen = check_queues(names)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    _check_start(ctx)
    if run_worker(ctx.settings, chosen, burst=burst, clock=ctx.clock).recycle:
        raise click.exceptions.Exit(RECYCLE_EXIT)  # past a memory or job limit: start anew


@click.command("run")
@host_option
@port_option
@pass_ctx
def run(ctx: CliContext, host: str, port: int) -> None:
    """Embedded all-in-one: migrate, load the demo if empty, run web + worker + scheduler."""
    settings = ctx.settings
    migrate.upgrade(settings.database_url)
    if not settings.production:
        _load_demo_if_empty(ctx)
    _check_start(ctx)
    try:
        ctx.redis.ping()  # embedded mode: the server starts here and outlives the children
    except Exception as exc:
        raise click.ClickException(f"Redis unreachable: {exc}") from exc
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda _s, _f: stop.set())
    children = _Children(_child_env(ctx, host, port))
    try:
        web_proc = children.start("web", "--host", host, "--port", str(port))
        children.start("worker")
        _wait_ready(_probe_url(host, port), web_proc, stop)
        _print_urls(host, port, ctx.settings.ussd_token)
        failed = children.supervise(stop)
    finally:
        children.stop()
    if failed:
        raise click.ClickException(f"{failed} exited unexpectedly; everything was stopped")
    click.echo("stopped")


def _check_start(ctx: CliContext) -> None:
    """Production refuses a mutual that would be paid by the sandbox (gateway.safety)."""
    try:
        check_start(ctx.runtime)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _load_demo_if_empty(ctx: CliContext) -> None:
    with ctx.session() as session:
        if session.scalar(select(Mutual.id).limit(1)) is not None:
            return
        load_demo(session, today=ctx.clock.today())
    click.echo("loaded the demo mutual and members")


def _child_env(ctx: CliContext, host: str, port: int) -> dict[str, str]:
    """Children see the same var/ (database file, embedded Redis) as this process, and,
    unless GATEWAY_PUBLIC_URL says otherwise, providers call back on the port served here."""
    env = dict(os.environ)
    env["GATEWAY_VAR_DIR"] = str(ctx.settings.var_dir.resolve())
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("GATEWAY_PUBLIC_URL", f"http://{_local_host(host)}:{port}")
    return env


def _local_host(host: str) -> str:
    """The address this machine reaches a server bound to `host` on."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _probe_url(host: str, port: int) -> str:
    return f"http://{_local_host(host)}:{port}/healthz"


def _wait_ready(url: str, web_proc: subprocess.Popen[bytes], stop: threading.Event) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and not stop.is_set() and web_proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        stop.wait(0.2)


def _print_urls(host: str, port: int, token: str) -> None:
    base = f"http://{'localhost' if host in ('0.0.0.0', '') else host}:{port}"
    query = f"?token={token}" if token else ""
    click.echo(f"USSD webhook:   {base}/ussd/africastalking{query}")
    click.echo(f"Simulator:      {base}/simulator")
    click.echo(f"Health:         {base}/readyz")
    click.echo("Press Ctrl-C to stop.")


class _Children:
    """Child processes, each in its own process group so that Ctrl-C reaches them only once,
    through us: a second signal would make RQ abandon the running job."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "gateway", name, *args]
        proc = subprocess.Popen(argv, env=self.env, process_group=0)
        self.procs[name] = proc
        return proc

    def supervise(self, stop: threading.Event) -> str | None:
        """Wait for a stop request; returns the name of a child that died on its own."""
        from worker.inprocess import RECYCLE_EXIT  # the CLI may start the worker package

        while not stop.wait(0.5):
            for name, proc in list(self.procs.items()):
                if proc.poll() is None:
                    continue
                if name == "worker" and proc.returncode == RECYCLE_EXIT:
                    self.start(name)  # it stopped on its memory or job limit (issue 19)
                    continue
                return name
        return None

    def stop(self) -> None:
        """SIGTERM (warm shutdown), then SIGKILL for the whole group of a child that hangs."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


COMMANDS = [web, worker_command, run]
