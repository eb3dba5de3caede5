"""Attack, light: stored XSS from mail rendered in Chromium, injection in the ticket filters,
forged tokens, other people's things by id, and password guessing, against a real
`servicedesk api` process. The full run is `python -m bench.chaos.attack` (the XSS corpus by mail
and by the API in the real portal, every GET parameter, SMTP abuse, credential stuffing)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.chaos import api_attacks, harness, peers, xss
from bench.chaos.fuzz import fuzz_pipeline, fuzz_settings
from bench.chaos.mime import HELP


def _mail(vector: xss.Vector) -> bytes:
    return (
        f"From: Mallory <mallory-{vector.id}@evil-mail.ac.kr>\r\nTo: {HELP}\r\n"
        f"Subject: XSS {vector.id}\r\nMessage-ID: <xss-{vector.id}@evil-mail.ac.kr>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"<p>본문</p>{vector.payload}\r\n"
    ).encode()


async def test_stored_mail_html_runs_no_script_in_chromium(
    committed_db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    vectors = [v for v in xss.corpus("lt") if v.kind == "html"]
    result = await fuzz_pipeline([_mail(v) for v in vectors], fuzz_settings(tmp_path / "up"))
    assert not result.unhandled and result.statuses["processed"] == len(vectors)
    stored = harness.query(
        database_url, "SELECT id, body_html FROM comments WHERE body_html IS NOT NULL"
    )
    assert len(stored) == len(vectors)
    control, watcher = xss.Watcher(), xss.Watcher()
    async with xss.chromium() as browser:
        # The raw vectors do run in the same bare page: the watcher can see a script run.
        await xss.render_fragments(browser, {v.id: v.payload for v in vectors[:8]}, control)
        await xss.render_fragments(
            browser, {f"comment {i}": h for i, h in stored}, watcher, per_page=10
        )
    assert control.executed >= 3, control.fired
    assert watcher.executed == 0, watcher.fired
    assert watcher.pages == -(-len(vectors) // 10)


async def test_api_refuses_injection_forged_tokens_and_other_peoples_things(
    committed_db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    ids = await peers.create_users(database_url)
    port = harness.free_port()
    env = harness.base_env(database_url, tmp_path, API_PUBLIC_URL=f"http://127.0.0.1:{port}")
    api = harness.Service(
        "api", ["api", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path, port=port
    )
    api.start()
    try:
        await asyncio.to_thread(api.wait_ready, 90)
        base = f"http://127.0.0.1:{port}"
        tokens = {address: await peers.login(base, address) for address, _ in peers.PEOPLE}
        target = api_attacks.Target(
            api=base,
            database_url=database_url,
            jwt_secret=env["JWT_SECRET"],
            tokens=tokens,
            ids=ids,
        )
        await api_attacks.arrange(target)

        injected = await api_attacks.injection(
            target, payloads=api_attacks.INJECTION[:12], only_path="/api/v1/tickets"
        )
        assert injected.requests > 300
        assert not injected.server_errors, injected.server_errors[:3]
        assert not injected.slow and not injected.leaks, (injected.slow, injected.leaks)
        assert injected.tables_intact

        forged = await api_attacks.token_attacks(target)
        assert len(forged) > 60
        assert [c for c in forged if not c.ok] == []

        others = await api_attacks.idor(target)
        assert len(others) > 20
        assert [c for c in others if not c.ok] == []

        guessed = await api_attacks.brute_force(base, peers.OTHER_REQUESTER, stuffing=0)
        assert guessed.first_429 is not None and guessed.first_429 <= 10, guessed.guesses
        assert set(guessed.guesses[guessed.first_429 - 1 :]) == {429}
        assert guessed.correct_during_lock == 429
        assert api.alive()
    finally:
        api.stop()
