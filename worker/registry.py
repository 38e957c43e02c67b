"""The worker's view of the job registry, which lives in gateway.queueing so that the web
process can name jobs (and enqueue them after commit) without importing the worker."""

from gateway.queueing import (
    CONFIRMATIONS,
    DEFAULT,
    JOBS,
    PAYMENTS,
    QUEUES,
    RECONCILIATION,
    SMS,
    JobSpec,
    defer,
    enqueue,
    spec,
)

__all__ = [
    "CONFIRMATIONS",
    "DEFAULT",
    "JOBS",
    "PAYMENTS",
    "QUEUES",
    "RECONCILIATION",
    "SMS",
    "JobSpec",
    "defer",
    "enqueue",
    "spec",
]
