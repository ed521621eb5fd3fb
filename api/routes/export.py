"""``GET /api/v1/export/...``: scores and leaderboard tables as CSV or JSON downloads, with the
same filters as the JSON routes (no paging: the whole selection)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from api.deps import Name, ScoreFiltersDep, StoreDep
from api.views import SettingFiltersDep, leaderboard_table
from harness.store import queries
from harness.store.summary import Axis

router = APIRouter(tags=["export"])

Format = Literal["csv", "json"]
EXPORT_BATCH = 5000
SCORE_COLUMNS = tuple(column.key for column in queries.SCORE_COLUMNS)
# What starts a formula in Excel, LibreOffice or Google Sheets (OWASP's CSV injection list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@router.get("/export/scores", response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def export_scores(
    store: StoreDep,
    filters: ScoreFiltersDep,
    format: Format = "csv",
) -> Response:
    """Every matching score of a finished run, one line per score, with its hashes."""

    def batches() -> Iterator[list[dict[str, Any]]]:
        offset = 0
        while True:
            items, _ = store.scores(**filters.as_kwargs(), limit=EXPORT_BATCH, offset=offset)
            if not items:
                return
            yield items
            offset += len(items)

    if format == "json":
        rows = [row for batch in batches() for row in batch]
        return _download(json.dumps(rows, indent=1), "scores.json", "application/json")
    return StreamingResponse(
        _csv_lines(SCORE_COLUMNS, (row for batch in batches() for row in batch)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="scores.csv"'},
    )


@router.get("/export/leaderboard/{axis}", response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def export_leaderboard(
    store: StoreDep,
    axis: Axis,
    filters: SettingFiltersDep,
    format: Format = "csv",
    column: Name = None,
    include_published: bool = False,
) -> Response:
    """The pivoted leaderboard (``/leaderboard/{axis}``) as one file; a published row is
    marked in the ``kind`` column with its ``source``."""
    result = leaderboard_table(store, axis, filters, column=column,
                               include_published=include_published)
    name = f"leaderboard-{axis}"
    if format == "json":
        return _download(json.dumps(result, indent=1), f"{name}.json", "application/json")
    ident = [k for k in ("kind", "source", "encoder_id", "group", "recipe", "llm", "connector",
                         "preset", "smoke", "seeds", "encoders")
             if any(k in r for r in result["rows"])]
    rows = ({**{k: r.get(k, "") for k in ident},
             **{c: "" if r["values"].get(c) is None else r["values"][c]
                for c in result["columns"]}} for r in result["rows"])
    return StreamingResponse(_csv_lines([*ident, *result["columns"]], rows),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _csv_lines(columns: Sequence[str], rows: Any) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_cell(c) for c in columns])
    for i, row in enumerate(rows):
        writer.writerow([_cell(row.get(c, "")) for c in columns])
        if i % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (``=cmd()``, ``@SUM``, ``-2+3``) gets a
    leading ``'``, which shows it as text; numbers, negative ones too, stay numbers. Names
    arrive from posted records, so any of them may be hostile."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def _download(body: str, filename: str, media_type: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
