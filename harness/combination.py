"""How a run on several encoders is named: their ids joined by ``+`` (``--encoders a+b``), in
sweeps, records, the store, published tables and the dashboard alike. Free of heavy imports,
so the API server reads it without loading torch."""

from __future__ import annotations

from collections.abc import Iterable

COMBINE = "+"


def combined_id(ids: Iterable[str]) -> str:
    """``["a", "b"]`` -> ``"a+b"``."""
    return COMBINE.join(ids)


def member_ids(encoder_id: str) -> list[str]:
    """``"a+b"`` -> ``["a", "b"]``; a single encoder's id -> ``[id]``."""
    return encoder_id.split(COMBINE)


def is_combination(encoder_id: str) -> bool:
    return COMBINE in encoder_id


def spelled_out(encoder_id: str, sep: str = " + ") -> str:
    """A combination as people read it: ``a + b`` (``sep="\\n+ "`` puts each on its line)."""
    return sep.join(member_ids(encoder_id))
