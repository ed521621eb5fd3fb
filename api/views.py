"""Tables shared by the JSON routes, the CSV/JSON export and the dashboard pages, so all three
show the same numbers for the same filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends

from api.deps import Name, SettingFilters
from harness.published.names import display_name
from harness.store import Store
from harness.store.published import table_rows
from harness.store.summary import Axis, filter_settings, table
from harness.triage.correlate import ProxyValues, Triage, read_triage


@dataclass(frozen=True)
class Filters(SettingFilters):
    """Which settings: the shared setting filters and the preset (the pivoted leaderboard
    and its export)."""

    preset: Name = None


SettingFiltersDep = Annotated[Filters, Depends()]


def leaderboard_table(store: Store, axis: Axis, filters: Filters, *, column: str | None = None,
                      include_published: bool = False) -> dict[str, Any]:
    """A pivot of the measured settings; published rows only when asked, and marked."""
    settings = filter_settings(
        store.settings(), group=filters.group, recipe=filters.recipe, llm=filters.llm,
        encoder=filters.encoder, preset=filters.preset, include_smoke=filters.include_smoke,
    )
    result = table(settings, axis, category=filters.category, column=column)
    for row in result["rows"]:
        row["kind"] = "measured"
    if include_published and axis in ("category", "benchmark"):
        extra = [r for r in table_rows(store.published(), axis, filters.category)
                 if filters.group is None or r["group"] == filters.group]
        result["rows"] += extra
        result["columns"] = sorted(set(result["columns"]) | {c for r in extra
                                                             for c in r["values"]})
        for row in result["rows"]:
            for c in result["columns"]:
                row["values"].setdefault(c, None)
    result["smoke_rows"] = sum(1 for r in result["rows"] if r.get("smoke"))
    result["total"] = len(result["rows"])
    return result


def sort_rows(rows: list[dict[str, Any]], column: str, descending: bool = True
              ) -> list[dict[str, Any]]:
    """Rows by ``column``, rows without a value last."""
    present = [r for r in rows if r["values"].get(column) is not None]
    absent = [r for r in rows if r["values"].get(column) is None]
    present.sort(key=lambda r: r["values"][column], reverse=descending)
    return present + absent


# -- triage ------------------------------------------------------------------------------------


def triage(store: Store) -> Triage:
    """The store's proxy scores and their correlations, read once per data version."""
    return store.cached("triage", lambda _session: read_triage(store))


def proxy_scores(proxies: ProxyValues, smoke: bool) -> list[dict[str, Any]]:
    """Per proxy (by name), its encoders' overall scores, best first, each with its interval
    and the encoder's display name."""
    return [{"proxy": proxy, "metric": next(iter(by_encoder.values()))["metric"],
             "scores": [{"encoder_id": e, "name": display_name(e), "value": v["value"],
                         "ci": v["ci"], "run_key": v["run_key"]}
                        for e, v in sorted(by_encoder.items(),
                                           key=lambda kv: (-kv[1]["value"], kv[0]))]}
            for (proxy, flag), by_encoder in sorted(proxies.items())
            if flag == smoke and by_encoder]
