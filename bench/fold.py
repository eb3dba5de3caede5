"""Fold figures over the hand-written reply set in tests/inbound/fold_cases (see its README).

    .venv/bin/python -m bench.fold

Precision: the share of answer characters left visible (1.0 means no answer was ever hidden).
Recall: the share of quote/signature characters folded. Whitespace is not counted. The cases and
their scoring live with the tests (tests/inbound/fold_scoring.py), which assert on them.
"""

from __future__ import annotations

from tests.inbound.fold_scoring import figures, load_cases, run


def main() -> None:
    outcomes = [run(case) for case in load_cases()]
    result = figures(outcomes)
    print(f"cases            {result['cases']}")
    print(f"answers hidden   {result['answers_hidden']}")
    print(f"precision        {result['precision']:.4f}  (answer characters left visible)")
    print(f"recall           {result['recall']:.4f}  (quote/signature characters folded)")
    print(f"exact fold point {result['exact_fold_points']}/{result['cases']}")
    for o in outcomes:
        if o.answer_hidden or not o.exact_ok or o.fold_hidden < o.fold_chars:
            print(
                f"  {o.case.name}: start={o.start} expected={o.case.fold_at} "
                f"hidden={o.answer_hidden} folded={o.fold_hidden}/{o.fold_chars}"
            )


if __name__ == "__main__":
    main()
