"""``GET /api/v1/leaderboard``: scores of finished runs on one subset, best first; and the same
pivoted by category, benchmark, recipe or group (``/leaderboard/{axis}``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import MAX_LIMIT, Limit, Name, Offset, StoreDep
from api.schemas import Leaderboard, LeaderboardRow, Table
from api.views import SettingFiltersDep, leaderboard_table, sort_rows
from harness.store import Store
from harness.store.summary import Axis

router = APIRouter(tags=["leaderboard"])


@router.get("/leaderboard")
def get_leaderboard(
    store: StoreDep,
    benchmark: Name = None,
    subset: Annotated[str, Query(max_length=200, pattern=r"^[^\x00]*$")] = "overall",
    include_smoke: bool = True,
    group: Name = None,
    recipe: Name = None,
    llm: Name = None,
    category: Name = None,
    encoder: Name = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT * 10)] = 100,
    offset: Offset = 0,
) -> Leaderboard:
    """One row per score (each seed separately); smoke rows marked."""
    rows = store.leaderboard(benchmark=benchmark, subset=subset, include_smoke=include_smoke,
                             group=group, recipe=recipe, llm=llm, category=category,
                             encoder=encoder, limit=limit, offset=offset)
    if not rows and offset == 0:
        _check_known(store, benchmark, subset)
    return Leaderboard(
        rows=[LeaderboardRow(**row) for row in rows],
        smoke_rows=sum(row["smoke"] for row in rows),
    )


@router.get("/leaderboard/{axis}")
def get_leaderboard_table(
    store: StoreDep,
    axis: Axis,
    filters: SettingFiltersDep,
    column: Name = None,
    include_published: bool = False,
    sort: Name = None,
    descending: bool = True,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Table:
    """Seeds averaged per setting (runs whose configs differ only in the seed), pivoted:

    - ``category``: a column per category average (Cambrian's rule: plain mean of the
      category's benchmarks; ``counts`` says how many of its four were measured);
    - ``benchmark``: a column per benchmark (only ``category``'s when given);
    - ``recipe``: a column per recipe, each showing ``column`` (a benchmark or category);
    - ``group``: a row per encoder group, each column the mean over the group's encoders.

    Published reference rows join the ``category`` and ``benchmark`` tables only with
    ``include_published=true``, marked ``kind: published`` with their source.
    """
    result = leaderboard_table(store, axis, filters, column=column,
                               include_published=include_published)
    if sort is not None:
        if sort not in result["columns"]:
            raise HTTPException(400, f"cannot sort by {sort!r}; columns: "
                                     f"{', '.join(result['columns']) or '(none)'}")
        result["rows"] = sort_rows(result["rows"], sort, descending)
    result["rows"] = result["rows"][offset:offset + limit]
    return Table(**result)


def _check_known(store: Store, benchmark: str | None, subset: str) -> None:
    # An empty answer is ambiguous: say which name is unknown rather than return nothing.
    known = store.benchmarks()
    if benchmark is not None and benchmark not in known:
        raise HTTPException(
            404, f"unknown benchmark {benchmark!r}; known: {', '.join(known) or '(none yet)'}"
        )
    subsets = store.subsets(benchmark)
    if known and subset not in subsets:
        raise HTTPException(404, f"unknown subset {subset!r}; known: {', '.join(subsets)}")
