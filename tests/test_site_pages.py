"""The Publier page and the public site: the <iframe> snippet, and the rebuild after a publish
and a rollback made in the page (CARTO_SITE_DIR), said in French."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from apptest import signed_in_publish_page, upload

MESSY = Path(__file__).resolve().parent / "data" / "messy"


def site_version(out: Path) -> int:
    """The version the site's index.html shows, read from the data file it loads."""
    page = (out / "index.html").read_text(encoding="utf-8")
    [name] = re.findall(r'<script src="(data\.[0-9a-f]+\.js)"', page)
    text = (out / name).read_text(encoding="utf-8")
    match = re.match(r"window\.cartoSiteData = (.*?);\n", text, re.S)
    assert match
    return int(json.loads(match.group(1))["version"])


def snippets(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.value for c in at.code if "<iframe" in c.value]


def test_no_snippet_without_a_public_site(db: str) -> None:
    at = signed_in_publish_page()
    assert not at.exception
    assert snippets(at) == []


def test_publier_page_gives_the_iframe_snippet(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTO_SITE_URL", "https://carte.example.fr/public/")
    at = signed_in_publish_page()
    assert not at.exception
    [snippet] = snippets(at)
    assert 'src="https://carte.example.fr/public/index.html?embed=1"' in snippet
    assert 'title="Carte des initiatives solidaires"' in snippet


def test_publish_and_rollback_in_the_page_rebuild_the_site(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "public"
    monkeypatch.setenv("CARTO_SITE_DIR", str(out))
    at = signed_in_publish_page()
    source = MESSY / "export-excel-cp1252-pointvirgule.csv"
    at = upload(at, source.name, source.read_bytes())
    next(c for c in at.checkbox if c.label.startswith("Je confirme la publication")).check().run()
    next(b for b in at.button if b.label == "Publier").click().run()
    assert not at.exception
    assert any("Site public mis à jour" in i.value for i in at.info), [i.value for i in at.info]
    assert site_version(out) == 2
    at.selectbox(key="rollback_target:2").set_value(1).run()
    at.checkbox(key="rollback_confirm:2").check().run()
    next(b for b in at.button if b.label == "Revenir à cette version").click().run()
    assert not at.exception
    assert any("version 3" in i.value for i in at.info), [i.value for i in at.info]
    assert site_version(out) == 3
    assert snippets(at)  # CARTO_SITE_DIR alone: the snippet, with an address to replace
