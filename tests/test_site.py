"""`carto site build`: the static public site built from the published version of a real store,
its rebuild after publish and rollback (CARTO_SITE_DIR), and its refusals."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from carto.cli import main
from carto.config import Settings
from carto.gazetteer import load_gazetteer
from carto.publishing.plan import open_store
from carto.site.build import DATA_FILE, build_site, embed_snippet

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "initiatives.csv"


def site_data(out: Path) -> dict[str, Any]:
    text = (out / DATA_FILE).read_text(encoding="utf-8")
    prefix = "window.cartoSiteData = "
    assert text.startswith(prefix)
    return json.loads(text[len(prefix) :].rstrip().rstrip(";"))


def test_site_build_from_published_version(db: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "site"
    assert main(["site", "build", str(out)]) == 0
    assert "18 initiatives" in capsys.readouterr().out
    page = (out / "index.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in page
    assert "Aller à la liste des initiatives" in page
    # Every script and stylesheet is a relative file of the folder: no CDN, no absolute URL.
    refs = re.findall(r'(?:src|href)="([^"#?][^"]*)"', page)
    assert refs and all(not re.match(r"[a-z]+:|/", ref) for ref in refs), refs
    for ref in refs:
        assert (out / ref).is_file(), ref
    assert "user-scalable=no" not in page
    cfg = Settings.from_env()
    with open_store(cfg, load_gazetteer(cfg.departement)) as store:
        published = store.load()
        version = store.current()
    data = site_data(out)
    assert version is not None and data["version"] == version.number
    assert [r["id"] for r in data["rows"]] == published["id"].tolist()
    calais = next(r for r in data["rows"] if r["commune"] == "Calais")
    assert calais["hay"] == calais["hay"].lower() and "calais" in calais["hay"]


def test_site_build_refuses_when_nothing_published(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("CARTO_DATA", str(tmp_path / "absent.csv"))
    assert main(["site", "build", str(tmp_path / "site")]) == 1
    assert "Aucune version publiée" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


def test_site_build_never_replaces_a_folder_that_is_not_a_site(db: str, tmp_path: Path) -> None:
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "lettre.odt").write_text("à garder")
    assert main(["site", "build", str(precious)]) == 2
    assert (precious / "lettre.odt").read_text() == "à garder"


def test_site_rebuild_swaps_the_whole_folder(db: str, tmp_path: Path) -> None:
    cfg = Settings.from_env()
    out = tmp_path / "site"
    with open_store(cfg, load_gazetteer(cfg.departement)) as store:
        table, version = store.load(), store.current()
        build_site(out, table, departement="62", version=version)
        (out / "ancien.txt").write_text("reste d'un ancien site")
        build_site(out, table.iloc[:3], departement="62", version=version)
    assert not (out / "ancien.txt").exists()
    assert len(site_data(out)["rows"]) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_site_rebuilt_after_publish_and_rollback(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    out = tmp_path / "public"
    monkeypatch.setenv("CARTO_SITE_DIR", str(out))
    smaller = tmp_path / "moins.csv"
    lines = DATA.read_text(encoding="utf-8").splitlines(keepends=True)
    smaller.write_text("".join(lines[:6]), encoding="utf-8")
    assert main(["import", str(smaller), "--mode", "replace"]) == 0
    assert "Site public mis à jour" in capsys.readouterr().err
    after_publish = site_data(out)
    assert after_publish["version"] == 2 and len(after_publish["rows"]) == 5
    assert main(["rollback", "1"]) == 0
    assert "Site public mis à jour" in capsys.readouterr().err
    after_rollback = site_data(out)
    assert after_rollback["version"] == 3 and len(after_rollback["rows"]) == 18


def test_failed_rebuild_keeps_the_version_and_says_so(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "fichier"
    blocker.write_text("pas un dossier")
    monkeypatch.setenv("CARTO_SITE_DIR", str(blocker / "site"))
    cfg = Settings.from_env()
    with open_store(cfg, load_gazetteer(cfg.departement)) as store:
        info = store.publish(store.load().iloc[:4], author="test", base_version=1)
        current = store.current()
    assert info.number == 2 and current is not None and current.number == 2
    assert len(info.notices) == 1 and "n'a pas pu être reconstruit" in info.notices[0]
    assert "carto site build" in info.notices[0]


def test_embed_snippet_is_a_titled_iframe() -> None:
    snippet = embed_snippet("https://carte.example.fr/site/")
    assert snippet.startswith('<iframe src="https://carte.example.fr/site/index.html?embed=1"')
    assert 'title="Carte des initiatives solidaires"' in snippet


def test_text_files_are_precompressed_for_static_servers(tmp_path) -> None:
    """nginx's gzip_static (docs/deployment.md §3 bis) serves these twins instead of
    compressing the 0.6 MB page on every request."""
    import gzip

    from carto.site.build import precompress

    (tmp_path / "index.html").write_text("<p>carte</p>" * 200, encoding="utf-8")
    (tmp_path / "petit.js").write_text("var a = 1;", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG" * 1000)
    assert precompress(tmp_path) == 1
    twin = tmp_path / "index.html.gz"
    assert gzip.decompress(twin.read_bytes()) == (tmp_path / "index.html").read_bytes()
    assert twin.stat().st_size < (tmp_path / "index.html").stat().st_size / 10
    assert not (tmp_path / "petit.js.gz").exists()  # below PRECOMPRESS_MIN_BYTES
    assert not (tmp_path / "image.png.gz").exists()  # not text
