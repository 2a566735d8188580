"""The admin page's ES modules: every one is served, and each imports only served ones."""

from __future__ import annotations

import re
from importlib import resources

from codex_runner.web.routes import ASSETS

STATIC = resources.files("codex_runner.web").joinpath("static")
IMPORT = re.compile(r'^import \{[^}]*\} from "\./([^"]+)";$', re.MULTILINE)


def test_every_file_under_static_is_a_served_asset() -> None:
    assert {entry.name for entry in STATIC.iterdir() if entry.is_file()} == set(ASSETS)


def test_the_modules_import_only_served_modules() -> None:
    imported = {
        name
        for entry in STATIC.iterdir()
        if entry.name.endswith(".js")
        for name in IMPORT.findall(entry.read_text())
    }
    assert imported  # the page is split into modules; an empty set means the pattern broke
    assert imported <= {name for name, kind in ASSETS.items() if kind == "text/javascript"}


def test_the_page_loads_admin_js_as_a_module() -> None:
    base = resources.files("codex_runner.web").joinpath("templates", "base.html").read_text()
    assert '<script type="module" src="/admin/static/admin.js"></script>' in base
