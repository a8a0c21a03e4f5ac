"""Static assets are served by the app itself (WhiteNoise), from package registries only."""

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client


def test_stylesheet_is_served_without_debug() -> None:
    response = Client().get("/static/levier/levier.css")
    assert response.status_code == 200
    assert b"--accent" in b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_htmx_comes_from_the_npm_package_installed_by_make_install() -> None:
    bundle = Path(settings.NODE_MODULES) / "htmx.org" / "dist" / "htmx.min.js"
    if not bundle.exists():
        pytest.skip("node_modules/htmx.org missing: run `make install` (npm ci) first")
    response = Client().get("/static/vendor/htmx.org/dist/htmx.min.js")
    assert response.status_code == 200
    assert b"htmx" in b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_pages_load_no_asset_from_another_host() -> None:
    templates = Path(settings.BASE_DIR).rglob("templates/**/*.html")
    offenders = [
        str(path)
        for path in templates
        if any(
            marker in path.read_text(encoding="utf-8")
            for marker in ('src="http', 'href="http', "src='http", "//cdn")
        )
    ]
    assert offenders == []
