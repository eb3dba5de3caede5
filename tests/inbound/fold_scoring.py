"""Scoring the fold over the hand-written reply set in tests/inbound/fold_cases (see its README):
the test (tests/inbound/test_folding.py) asserts on it, bench/fold.py prints its figures.

Precision: the share of answer characters left visible (1.0 means no answer was ever hidden).
Recall: the share of quote/signature characters folded. Whitespace is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.mail.quotes import find_quote_start

CASES = Path(__file__).resolve().parent / "fold_cases"
EXACT, AT_OR_AFTER = "~~~ fold", "~~~ fold-at-or-after"


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    fold_at: int  # where the answer ends (len(text) when nothing is to be folded)
    exact: bool  # the fold must start exactly at fold_at (or be None when nothing is to fold)


@dataclass(frozen=True)
class Outcome:
    case: Case
    start: int | None
    answer_chars: int
    answer_hidden: int
    fold_chars: int
    fold_hidden: int

    @property
    def exact_ok(self) -> bool:
        if not self.case.exact:
            return True
        if self.case.fold_at >= len(self.case.text.rstrip()):
            return self.start is None
        return self.start == self.case.fold_at


def load_cases(folder: Path = CASES) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(folder.glob("*.txt")):
        name, body = None, []
        for line in [*path.read_text(encoding="utf-8").split("\n"), "=== "]:
            if line.startswith("=== "):
                if name is not None:
                    cases.append(_case(f"{path.stem}/{name}", body))
                name, body = line[4:].strip(), []
            elif name is not None:
                body.append(line)
    return cases


def _case(name: str, body: list[str]) -> Case:
    while body and not body[-1].strip():
        body.pop()
    markers = [i for i, line in enumerate(body) if line in (EXACT, AT_OR_AFTER)]
    if len(markers) > 1:
        raise ValueError(f"{name}: more than one marker line")
    if not markers:
        text = "\n".join(body) + "\n"
        return Case(name, text, len(text), exact=True)
    i = markers[0]
    above, below = body[:i], body[i + 1 :]
    visible = "".join(line + "\n" for line in above)
    text = visible + "\n".join(below) + "\n"
    return Case(name, text, len(visible), exact=body[i] == EXACT)


def _chars(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


def run(case: Case) -> Outcome:
    start = find_quote_start(case.text)
    cut = len(case.text) if start is None else start
    answer, folded = case.text[: case.fold_at], case.text[case.fold_at :]
    return Outcome(
        case=case,
        start=start,
        answer_chars=_chars(answer),
        answer_hidden=_chars(answer[cut:]),
        fold_chars=_chars(folded),
        fold_hidden=_chars(case.text[max(cut, case.fold_at) :]),
    )


def figures(outcomes: list[Outcome]) -> dict[str, float]:
    answers = sum(o.answer_chars for o in outcomes)
    hidden = sum(o.answer_hidden for o in outcomes)
    folds = sum(o.fold_chars for o in outcomes)
    return {
        "cases": len(outcomes),
        "answers_hidden": sum(1 for o in outcomes if o.answer_hidden),
        "precision": (answers - hidden) / answers if answers else 1.0,
        "recall": sum(o.fold_hidden for o in outcomes) / folds if folds else 1.0,
        "exact_fold_points": sum(1 for o in outcomes if o.exact_ok),
    }
