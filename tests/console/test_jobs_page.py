"""`/console/jobs` (issue 16): the RQ queues with their counts, failed jobs with their error
(phones masked by the worker before Redis kept it), "requeue" (one `operator_actions` row);
only the whole deployment's operators open it (jobs belong to no mutual)."""

from __future__ import annotations

import redis
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy.orm import Session

from gateway.models import Role, ScopeKind
from gateway.queueing import SMS
from gateway.services.operators import ScopeRef
from tests.console.conftest import TwoMutuals
from tests.support.console import actions, csrf_token, make_user, post, sign_in
from tests.support.ops_console import action_count
from worker.rq_workers import SimpleWorker

EVERYTHING = ScopeRef(ScopeKind.ALL)


def _failed_job(connection: redis.Redis[bytes]) -> str:
    """A send job that fails with a member's phone in its error, run by the real worker."""
    queue = Queue(SMS, connection=connection)
    job = queue.enqueue("builtins.int", "call +22670112233 now", job_id="sms-test-1")
    Queue("default", connection=connection).enqueue("builtins.len", "waiting")
    SimpleWorker([queue], connection=connection).work(burst=True)
    return job.id


def test_queues_and_failed_jobs_for_the_whole_deployment(
    db: Session, two: TwoMutuals, client: FlaskClient, redis_client: redis.Redis[bytes]
) -> None:
    job_id = _failed_job(redis_client)
    make_user(db, "ops@federation.bf", Role.VIEWER, EVERYTHING)
    make_user(db, "admin@ma.bf", Role.ADMIN, two.scope_a)
    db.commit()
    sign_in(client, "ops@federation.bf")
    html = client.get("/console/jobs").get_data(as_text=True)
    default = html.split('data-name="default"')[1].split("</tr>")[0]
    assert '<td class="queued">1</td>' in default
    sms = html.split('data-name="sms"')[1].split("</tr>")[0]
    assert '<td class="failed">1</td>' in sms
    assert f'data-id="{job_id}"' in html and "ValueError: invalid literal" in html
    assert "+22670****33" in html and "+22670112233" not in html
    assert "Requeue" not in html  # a viewer
    assert f'data-id="{job_id}"' not in client.get("/console/jobs?queue=payments").get_data(
        as_text=True
    )
    assert client.get("/console/jobs?queue=nope").status_code == 400
    assert post(client, f"/console/jobs/{job_id}/requeue", {"reason": "x"}).status_code == 403
    narrow = client.application.test_client()
    sign_in(narrow, "admin@ma.bf")
    assert narrow.get("/console/jobs").status_code == 403
    assert "/console/jobs" not in narrow.get("/console/").get_data(as_text=True)
    assert post(narrow, f"/console/jobs/{job_id}/requeue", {"reason": "x"}).status_code == 403


def test_requeue_a_failed_job(
    db: Session, client: FlaskClient, redis_client: redis.Redis[bytes]
) -> None:
    job_id = _failed_job(redis_client)
    admin = make_user(db, "ops@federation.bf", Role.ADMIN, EVERYTHING)
    db.commit()
    admin_id = admin.id
    before = action_count(db)
    sign_in(client, "ops@federation.bf")
    url = f"/console/jobs/{job_id}/requeue"
    blank = post(client, url, {"reason": ""}, follow=True)
    assert "a reason is required" in blank.get_data(as_text=True)
    csrf_token(client, "/console/")
    assert client.post(url, data={"reason": "no token"}).status_code == 400
    assert action_count(db) == before
    done = post(client, url, {"reason": "provider back up"}, follow=True)
    assert f"Job {job_id} put back in its queue." in done.get_data(as_text=True)
    [row] = actions(db)[before:]
    assert (row.action, row.object_type, row.object_id, row.user_id, row.reason) == (
        "job.requeue",
        "job",
        job_id,
        admin_id,
        "provider back up",
    )
    assert row.after == {"queue": SMS} and row.mutual_id is None
    queue = Queue(SMS, connection=redis_client)
    assert queue.job_ids == [job_id] and job_id not in queue.failed_job_registry
    assert post(client, url, {"reason": "twice"}).status_code == 404  # not failed any more
    assert action_count(db) == before + 1
