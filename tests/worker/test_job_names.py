"""Every registered job is named after its function ("send-sms" -> worker.jobs.*.send_sms), so a
name in a log, a queue or the schedule leads straight to its code, and every path imports."""

from __future__ import annotations

import importlib

import pytest

from gateway.queueing import JOBS, JobSpec


def function_name(name: str) -> str:
    return name.replace("-", "_")


@pytest.mark.parametrize(("name", "spec"), sorted(JOBS.items()), ids=sorted(JOBS))
def test_a_job_is_named_after_its_function(name: str, spec: JobSpec) -> None:
    module, _, function = spec.path.rpartition(".")
    assert function == function_name(name), f"{name} runs {spec.path}"
    assert module.startswith("worker.jobs.")
    assert callable(getattr(importlib.import_module(module), function))
