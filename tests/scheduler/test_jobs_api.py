"""The jobs admin API: the catalog with next runs, the runs of a job (paged, by status), one run
with its log, and "run now" queueing a run once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import JobRun, Role
from tests.api.conftest import MakePerson, api_app, client, make_person  # noqa: F401

BASE = "/api/v1/admin"


async def test_jobs_runs_and_run_now(
    client: httpx.AsyncClient,  # noqa: F811
    make_person: MakePerson,  # noqa: F811
    session: AsyncSession,
) -> None:
    admin = (await make_person(Role.admin)).headers
    agent = (await make_person(Role.agent)).headers
    assert (await client.get(f"{BASE}/jobs", headers=agent)).status_code == 403

    start = datetime(2026, 11, 1, tzinfo=UTC)
    for n in range(5):
        session.add(
            JobRun(
                job_id="purge_raw_mail",
                status="failed" if n == 3 else "succeeded",
                started_at=start + timedelta(days=n),
                finished_at=start + timedelta(days=n, seconds=3),
                duration_ms=3000,
                summary={"purged": n},
                log=f"run {n}",
                error="Unavailable: storage down" if n == 3 else None,
            )
        )
    await session.flush()

    jobs = (await client.get(f"{BASE}/jobs", headers=admin)).json()
    by_id = {j["id"]: j for j in jobs}
    assert set(by_id) >= {
        "sla_scan",
        "user_sync",
        "purge_raw_mail",
        "purge_stale_uploads",
        "auto_close_resolved",
        "prune_job_runs",
    }
    assert by_id["purge_raw_mail"]["last_status"] == "succeeded"  # the newest run (n = 4)
    assert by_id["sla_scan"]["next_run_at"] is not None
    assert by_id["sla_scan"]["last_status"] is None

    page = (await client.get(f"{BASE}/jobs/purge_raw_mail/runs?limit=2", headers=admin)).json()
    assert [r["summary"]["purged"] for r in page["items"]] == [4, 3]
    rest = (
        await client.get(
            f"{BASE}/jobs/purge_raw_mail/runs?limit=2&cursor={page['next_cursor']}", headers=admin
        )
    ).json()
    assert [r["summary"]["purged"] for r in rest["items"]] == [2, 1]
    failed = (
        await client.get(f"{BASE}/jobs/purge_raw_mail/runs?status=failed", headers=admin)
    ).json()
    assert [r["error"] for r in failed["items"]] == ["Unavailable: storage down"]
    detail = (await client.get(f"{BASE}/job-runs/{failed['items'][0]['id']}", headers=admin)).json()
    assert detail["log"] == "run 3"
    assert (await client.get(f"{BASE}/job-runs/999999", headers=admin)).status_code == 404
    assert (await client.get(f"{BASE}/jobs/nope/runs", headers=admin)).status_code == 404

    queued = await client.post(f"{BASE}/jobs/user_sync/run", headers=admin)
    assert queued.status_code == 202
    assert (queued.json()["status"], queued.json()["trigger"]) == ("queued", "manual")
    again = await client.post(f"{BASE}/jobs/user_sync/run", headers=admin)
    assert again.json()["id"] == queued.json()["id"]  # one waiting request, not two
    listed = {j["id"]: j for j in (await client.get(f"{BASE}/jobs", headers=admin)).json()}
    assert listed["user_sync"]["queued"] is True
    assert (await client.post(f"{BASE}/jobs/nope/run", headers=admin)).status_code == 404
