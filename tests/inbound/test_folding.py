"""Every hand-written reply in fold_cases/ through find_quote_start: no answer is ever hidden, and
the fold starts exactly where a case says so. The figures are printed (bench/fold.py prints them
too); only the hidden answers and the exact fold points are asserted."""

from __future__ import annotations

import pytest

from core.mail.quotes import find_quote_start
from tests.inbound.fold_scoring import figures, load_cases, run

CASES = load_cases()


def test_the_set_is_large_and_covers_the_languages() -> None:
    languages = {case.name.split("/")[0] for case in CASES}
    assert len(CASES) >= 60
    wanted = {"ko", "en", "de", "fr", "es", "it", "nl", "pl", "ru", "ja", "zh", "da", "sv", "pt"}
    assert wanted <= languages


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_no_answer_is_hidden_and_the_fold_starts_where_expected(case) -> None:
    outcome = run(case)
    visible = case.text if outcome.start is None else case.text[: outcome.start]
    assert outcome.answer_hidden == 0, visible
    assert outcome.exact_ok, (outcome.start, case.fold_at, case.text[outcome.start or 0 :][:80])


def test_precision_and_recall_over_the_set(capsys) -> None:
    result = figures([run(case) for case in CASES])
    with capsys.disabled():
        print(
            f"\nfold set: {result['cases']} cases, precision {result['precision']:.4f}, "
            f"recall {result['recall']:.4f}, answers hidden {result['answers_hidden']}"
        )
    assert result["answers_hidden"] == 0


def test_search_and_notifications_use_the_visible_text() -> None:
    """What folds is neither indexed nor mailed in notifications; an interleaved answer is both."""
    from core.models import Comment
    from core.outbox.service import comment_content
    from core.tickets.search import comment_text

    top_posted = "Drucker geht wieder.\n\nAm 02.12.2026 um 10:00 schrieb Desk:\n> Neustart?\n"
    interleaved = "On 02/12/2026 10:00, Desk wrote:\n> Cable?\nYes, plugged in.\n> Port?\nNo.\n"
    for body, visible in ((top_posted, "Drucker geht wieder."), (interleaved, interleaved.strip())):
        comment = Comment(body_text=body, quote_start=find_quote_start(body))
        assert comment_text(comment).strip() == visible
        assert comment_content(comment, author_name="A").text == visible
