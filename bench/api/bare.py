"""The baseline: a bare FastAPI app returning a JSON list of the same size as a queue page, no
database, no auth. The API's requests/s is reported against this one in the same run."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()
PAGE = [
    {"id": n, "number": 1000 + n, "subject": "연구실 프린터가 인쇄되지 않습니다", "status": "open"}
    for n in range(50)
]


@app.get("/bare")
async def bare() -> dict:
    return {"items": PAGE, "next_cursor": None}
