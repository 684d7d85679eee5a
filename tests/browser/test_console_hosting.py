"""The console's hosting: static files with a build-free module graph, a vendored barcode library with its
licence, and the runtime config the local stack generates (no CDN, nothing fetched from elsewhere)."""

from __future__ import annotations

import re

import requests

from infra.local import console
from tests.conftest import ROOT

CONSOLE = ROOT / "console"


def test_make_run_serves_the_console_and_names_it_in_stack_json(local_stack):
    base = local_stack["console_url"]
    assert base == "http://127.0.0.1:8080"
    index = requests.get(base + "/", timeout=10)
    assert index.status_code == 200 and "text/html" in index.headers["Content-Type"]
    assert index.headers["X-Content-Type-Options"] == "nosniff"
    module = requests.get(base + "/js/main.js", timeout=10)
    assert module.headers["Content-Type"].startswith("text/javascript")  # ES modules need a JS MIME type
    config = requests.get(base + "/config.json", timeout=10)
    assert config.headers["Cache-Control"] == "no-store"
    assert config.json() == {
        "api_url": local_stack["api_url"],
        "cognito_endpoint": local_stack["aws_endpoint_url"],  # moto's Cognito answers the browser's CORS
        "user_pool_id": local_stack["user_pool_id"],
        "client_id": local_stack["client_id"],
        "region": local_stack["region"],
    }
    assert requests.get(base + "/nope.js", timeout=10).status_code == 404


def test_the_cognito_endpoint_answers_the_browsers_cors_preflight(local_stack):
    answer = requests.options(
        local_stack["aws_endpoint_url"] + "/",
        headers={
            "Origin": local_stack["console_url"],
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target",
        },
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] in ("*", local_stack["console_url"])
    assert "x-amz-target" in answer.headers["Access-Control-Allow-Headers"].lower()


def test_every_module_import_and_asset_resolves_and_nothing_comes_from_a_cdn():
    files = [*CONSOLE.rglob("*.js"), *CONSOLE.rglob("*.html"), *CONSOLE.rglob("*.css")]
    own = [f for f in files if "vendor" not in f.parts]
    for path in own:
        text = path.read_text()
        assert not re.search(
            r"""(src|href)=["']https?://|from ["']https?://|@import url\(["']?https?:""", text
        ), path
        for target in re.findall(r"""(?:from|import\()\s*["'](\.[^"']+)["']""", text):
            assert (path.parent / target).resolve().exists(), (path, target)
        for target in re.findall(r"""(?:src|href)="([^"#:]+)\"""", text):
            assert (path.parent / target).resolve().exists(), (path, target)


def test_the_vendored_barcode_library_is_pinned_with_its_licence():
    vendored = CONSOLE / "vendor" / "jsbarcode-3.12.3"
    assert "Permission is hereby granted, free of charge" in (vendored / "MIT-LICENSE.txt").read_text()
    assert "JsBarcode v3.12.3" in (vendored / "JsBarcode.code128.min.js").read_text()[:200]


def test_the_runtime_config_has_the_same_keys_locally_and_in_aws():
    config = console.runtime_config(
        "https://api.example/", "https://cognito-idp.x.amazonaws.com/", "p", "c", "r"
    )
    assert config == {
        "api_url": "https://api.example",
        "cognito_endpoint": "https://cognito-idp.x.amazonaws.com",
        "user_pool_id": "p",
        "client_id": "c",
        "region": "r",
    }


def test_screenshots_go_to_an_ignored_folder_unless_update_screenshots_is_set():
    import subprocess

    from tests.browser.conftest import screenshot_dir

    assert screenshot_dir({"UPDATE_SCREENSHOTS": "1"}) == ROOT / "docs" / "screenshots"
    for environ in ({}, {"UPDATE_SCREENSHOTS": "0"}):
        folder = screenshot_dir(environ)
        assert folder != ROOT / "docs" / "screenshots"
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", str(folder / "review-queue.png")], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0, f"{folder} is not git-ignored"
