"""The OpenAPI docs and every script the pages load come from this server, never a CDN."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/", "/families", "/recipes",
                                  "/benchmarks", "/triage", "/runs"])
def test_pages_load_only_local_assets(api: TestClient, page: str) -> None:
    response = api.get(page)
    assert response.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    external = [a for a in assets if a.startswith(("http:", "https:", "//"))]
    assert external == []
    for asset in {a for a in assets if a.startswith("/static/")}:
        assert api.head(asset).status_code == 200, asset


def test_swagger_ui_points_at_the_local_bundle(api: TestClient) -> None:
    page = api.get("/docs").text
    assert "/static/docs/swagger-ui-bundle.js" in page and "cdn.jsdelivr" not in page
    bundle = api.get("/static/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 500_000
    assert api.get("/static/docs/evil.js").status_code == 422
    schema = api.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
