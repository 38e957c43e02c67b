"""gunicorn settings for the web process.

    gunicorn -c deploy/gunicorn.conf.py 'gateway.app:create_app()'

USSD hops are short (database + Redis, < 50 ms): a few processes with a few threads each keep
the operator's ~10 s hop budget far away; nginx in front handles slow clients and TLS."""

import multiprocessing
import os

bind = f"127.0.0.1:{os.environ.get('GATEWAY_PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = 4
# No preload: each worker process builds its own Runtime (engine, Redis client) in create_app().
preload_app = False
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
# Requests are small form posts; refuse oversized request lines and headers early.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
forwarded_allow_ips = "127.0.0.1"
accesslog = "-"
# Callback URLs carry ?token=... (interfaces.md, HTTP): log the path without its query string
# (%(U)s, not the request line %(r)s nor the query %(q)s) and no Referer, which may repeat it.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)s "%(a)s"'
errorlog = "-"
loglevel = "info"
proc_name = "gateway-web"
# gunicorn >= 27 opens a control socket under $HOME; the systemd unit has ProtectHome.
control_socket_disable = True


def on_starting(server: object) -> None:
    """Production refuses to serve a mutual paid by the sandbox provider (gateway.safety): the
    master checks once, before any worker forks, and stops with the reason."""
    from gateway.runtime import Runtime
    from gateway.safety import check_start
    from gateway.settings import Settings, SettingsError

    runtime = Runtime(Settings.from_env())
    try:
        check_start(runtime)
    except SettingsError as exc:
        raise SystemExit(str(exc)) from None
    finally:
        runtime.close()
