"""Rendered dashboard pages kept per data version, and the request dependencies every page
route shares (the page cache, the smoke switch)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from api.dashboard.render import SMOKE_PARAM
from harness.store import Store

PAGE_CACHE_SIZE = 64


class PageCache:
    """Rendered pages keyed by (page, parameters, the store's data version): a page is drawn
    once per change of the data, however often it is viewed. Per app, thread-safe."""

    def __init__(self, size: int = PAGE_CACHE_SIZE) -> None:
        self.size = size
        self._pages: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, store: Store, key: tuple[Any, ...], render: Callable[[], str]) -> str:
        full = (*key, store.data_version())
        with self._lock:
            if full in self._pages:
                self._pages.move_to_end(full)
                return self._pages[full]
        html = render()
        with self._lock:
            self._pages[full] = html
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return html


def page_cache(request: Request) -> PageCache:
    return request.app.state.page_cache  # made by create_app, warmed at start-up


PageCacheDep = Annotated[PageCache, Depends(page_cache)]
IncludeSmoke = Annotated[bool, Query(alias=SMOKE_PARAM)]
"""Whether a page includes smoke runs, under the name its switch and its forms use."""
