"""`carto site build`: the static public site built from the published version of a real store,
its rebuild after publish and rollback (CARTO_SITE_DIR), and its refusals."""

from __future__ import annotations

import gzip
import json
import re
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from carto.cli import main
from carto.config import Settings
from carto.gazetteer import load_gazetteer
from carto.publishing.plan import open_store
from carto.publishing.storage import VersionInfo
from carto.site.build import build_site, embed_snippet
from carto.site.folder import site_key

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "initiatives.csv"
# Size of index.html when the outlines were inline (before hashed files): 591,642 bytes.
SMALL_PAGE = 16_000
# The key a store keeps to sign its site's folder (carto.site.folder.site_key).
KEY = bytes(range(32))


def referenced(out: Path) -> list[str]:
    """The files index.html makes a browser load (scripts and stylesheets)."""
    page = (out / "index.html").read_text(encoding="utf-8")
    return re.findall(r'<(?:script|link)\b[^>]*?(?:src|href)="([^"#?]+)"', page)


def data_file(out: Path) -> Path:
    [name] = [ref for ref in referenced(out) if re.fullmatch(r"data\.[0-9a-f]+\.js", ref)]
    return out / name


def site_data(out: Path) -> dict[str, Any]:
    text = data_file(out).read_text(encoding="utf-8")
    match = re.match(r"window\.cartoSiteData = (.*?);\n", text, re.S)
    assert match, text[:200]
    return json.loads(match.group(1))


def nginx_immutable_pattern() -> re.Pattern[str]:
    """The location regex that docs/deployment.md §3 bis marks immutable."""
    doc = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    block = doc.split("<!-- nginx-site:début -->")[1].split("<!-- nginx-site:fin -->")[0]
    match = re.search(r'location ~\*? "([^"]+)" \{\s*add_header Cache-Control "([^"]+)"', block)
    assert match and "immutable" in match.group(2), block
    return re.compile(match.group(1), re.I)


def published() -> tuple[pd.DataFrame, VersionInfo | None]:
    cfg = Settings.from_env()
    with open_store(cfg, load_gazetteer(cfg.departement)) as store:
        return store.load(), store.current()


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
    # The page is small: outlines, data and scripts are files the browser caches.
    assert (out / "index.html").stat().st_size < SMALL_PAGE
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


def test_our_files_have_hashed_names_that_nginx_caches_for_ever(db: str, tmp_path: Path) -> None:
    """site.js, site.css, the outlines, the data and the map script: a digest in the name,
    matched by the immutable rule of docs/deployment.md; index.html is not (revalidated)."""
    table, version = published()
    out = tmp_path / "site"
    build_site(out, table, departement="62", version=version, key=KEY)
    immutable = nginx_immutable_pattern()
    ours = [ref for ref in referenced(out) if not ref.startswith("vendor/")]
    stems = sorted(re.sub(r"\.[0-9a-f]{10}\.", ".", ref) for ref in ours)
    assert stems == ["data.js", "map.js", "outlines.js", "site.css", "site.js"], ours
    for ref in ours:
        assert immutable.search("/" + ref), ref
    assert not immutable.search("/index.html")
    # The outlines are in their file, not in the page; no leftover geo/ copies.
    outlines = next(ref for ref in ours if ref.startswith("outlines."))
    assert (out / outlines).stat().st_size > 300_000
    assert "FeatureCollection" not in (out / "index.html").read_text(encoding="utf-8")
    assert not (out / "geo").exists()


def test_text_files_have_gzip_twins(db: str, tmp_path: Path) -> None:
    """nginx's gzip_static (docs/deployment.md §3 bis) sends these twins instead of compressing
    on every request: each holds exactly the file's bytes."""
    table, version = published()
    out = tmp_path / "site"
    build_site(out, table, departement="62", version=version, key=KEY)
    texts = ["index.html", *(r for r in referenced(out) if r.endswith((".js", ".css")))]
    for name in texts:
        if (out / name).stat().st_size < 1024:
            continue
        twin = out / (name + ".gz")
        assert gzip.decompress(twin.read_bytes()) == (out / name).read_bytes(), name
        assert twin.stat().st_size < (out / name).stat().st_size, name
    images = [p for p in out.rglob("*.png")]
    assert images and not any(p.with_name(p.name + ".gz").exists() for p in images)


def test_names_change_with_the_content_only(db: str, tmp_path: Path) -> None:
    table, version = published()
    build_site(tmp_path / "a", table, departement="62", version=version, key=KEY)
    build_site(tmp_path / "b", table, departement="62", version=version, key=KEY)
    build_site(tmp_path / "c", table.iloc[:3], departement="62", version=version, key=KEY)
    a, b, c = (referenced(tmp_path / name) for name in "abc")
    assert a == b  # the same data: the same names, a returning visitor downloads nothing
    changed = sorted(re.sub(r"\.[0-9a-f]{10}\.", ".", ref) for ref in set(c) - set(a))
    assert changed == ["data.js", "map.js"]  # the outlines, site.js and site.css stay cached
    for name in "ab":
        assert (tmp_path / name / "index.html").read_bytes() == (
            tmp_path / "a" / "index.html"
        ).read_bytes()


def test_rebuild_keeps_the_previous_site_and_removes_older_ones(db: str, tmp_path: Path) -> None:
    """A visitor who got the page just before a publication still gets its files; the folder
    does not grow with every publication; what someone else put there stays."""
    table, version = published()
    out = tmp_path / "site"
    build_site(out, table, departement="62", version=version, key=KEY)
    first = referenced(out)
    (out / "important.docx").write_text("à garder")
    (out / "sub").mkdir()
    (out / "sub" / "notes.txt").write_text("à garder aussi")
    build_site(out, table.iloc[:3], departement="62", version=version, key=KEY)
    second = referenced(out)
    assert len(site_data(out)["rows"]) == 3
    # The page was put in place after every file it names.
    page_time = (out / "index.html").stat().st_mtime_ns
    assert all((out / ref).stat().st_mtime_ns <= page_time for ref in second)
    assert all((out / ref).is_file() for ref in first + second)
    build_site(out, table.iloc[:5], departement="62", version=version, key=KEY)
    third = referenced(out)
    assert all((out / ref).is_file() for ref in second + third)
    gone = set(first) - set(second) - set(third)
    assert gone and not any((out / ref).exists() for ref in gone)
    assert not any((out / (ref + ".gz")).exists() for ref in gone)
    assert (out / "important.docx").read_text() == "à garder"
    assert (out / "sub" / "notes.txt").read_text() == "à garder aussi"
    # Nothing half-written is left, in the folder or next to it.
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert not [p for p in out.rglob("*.part")]
    files = {p.name for p in out.iterdir() if p.is_file() and p.suffix != ".docx"}
    assert len([n for n in files if n.startswith("data.")]) == 4  # two sites, with twins


def test_visitors_never_miss_a_file_during_rebuilds(db: str, tmp_path: Path) -> None:
    """While the site is rebuilt, index.html is always there and every file it names too."""
    table, version = published()
    out = tmp_path / "site"
    build_site(out, table, departement="62", version=version, key=KEY)
    problems: list[str] = []
    done = threading.Event()

    def rebuild() -> None:
        try:
            for rows in (3, 18, 5):
                build_site(out, table.iloc[:rows], departement="62", version=version, key=KEY)
        finally:
            done.set()

    builder = threading.Thread(target=rebuild)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # the visitor looks between any two steps of the build
    try:
        builder.start()
        visits = 0
        while not done.is_set():
            try:
                refs = referenced(out)
            except OSError as exc:
                problems.append(f"index.html : {exc}")
                continue
            problems.extend(ref for ref in refs if not (out / ref).is_file())
            visits += 1
        builder.join()
    finally:
        sys.setswitchinterval(interval)
    assert problems == []
    assert visits > 50
    assert len(site_data(out)["rows"]) == 5


def test_two_builds_at_once_leave_a_whole_site(db: str, tmp_path: Path) -> None:
    """Two instances publishing at the same moment with one CARTO_SITE_DIR."""
    table, version = published()
    out = tmp_path / "site"
    errors: list[BaseException] = []

    def build(rows: int) -> None:
        try:
            build_site(out, table.iloc[:rows], departement="62", version=version, key=KEY)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(rows,)) for rows in (3, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(site_data(out)["rows"]) in (3, 7)
    assert all((out / ref).is_file() for ref in referenced(out))


def test_site_rebuilt_after_publish_and_rollback(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    out = tmp_path / "public"
    monkeypatch.setenv("CARTO_SITE_DIR", str(out))
    smaller = tmp_path / "moins.csv"
    lines = DATA.read_text(encoding="utf-8").splitlines(keepends=True)
    smaller.write_text("".join(lines[:6]), encoding="utf-8")
    assert (
        main(["import", str(smaller), "--mode", "replace", "--confirmer-suppressions", "13"]) == 0
    )
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


def test_site_after_a_publication_shows_what_is_new_and_what_ended(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """An editor publishes two new initiatives and one that ended (CLI, CARTO_SITE_DIR): the
    rebuilt site marks the two « Nouveau », keeps the ended one for site.js to hide, and lists
    the publication in « Nouveautés » with its note, in the dashboard's words."""
    from carto.timeline import publication_news

    out = tmp_path / "public"
    monkeypatch.setenv("CARTO_SITE_DIR", str(out))
    lines = DATA.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    first = lines[1].rstrip("\n").split(",")
    ended = dict(zip(header, first, strict=True)) | {"date_fin": "2020-05-11"}
    added = [
        dict(zip(header, first, strict=True))
        | {"id": f"hebdo-{n}", "nom": name, "date_debut": "2026-11-30"}
        for n, name in ((1, "Épicerie solidaire de Guînes"), (2, "Couturières de Liévin"))
    ]
    weekly = tmp_path / "hebdo.csv"
    weekly.write_text(
        lines[0] + "".join(",".join(row[c] for c in header) + "\n" for row in [ended, *added]),
        encoding="utf-8",
    )
    note = "Communiqué de la semaine"
    assert main(["import", str(weekly), "--mode", "merge", "--note", note]) == 0
    assert "Site public mis à jour" in capsys.readouterr().err
    data = site_data(out)
    assert data["version"] == 2 and len(data["rows"]) == 20
    assert sorted(r["id"] for r in data["rows"] if r["nouveau"]) == ["hebdo-1", "hebdo-2"]
    tereos = next(r for r in data["rows"] if r["id"] == first[0])
    assert (tereos["fin"], tereos["statut"]) == ("2020-05-11", "")
    cfg = Settings.from_env()
    with open_store(cfg, load_gazetteer(cfg.departement)) as store:
        news = publication_news(store)
    assert [n["number"] for n in data["news"]] == [2, 1]
    assert data["news"][0]["note"] == note
    assert data["news"][0]["lines"] == news[0].lines_fr()
    assert any("initiatives ajoutées" in line for line in data["news"][0]["lines"])
    assert any("terminée" in line for line in data["news"][0]["lines"])
    assert "version 2 publiée le" in (out / "index.html").read_text(encoding="utf-8")
    # Back to version 1: nothing in it is new to visitors.
    assert main(["rollback", "1"]) == 0
    data = site_data(out)
    assert data["version"] == 3 and not any(r["nouveau"] for r in data["rows"])
    assert data["news"][0]["lines"][0] == "Retour au contenu de la version 1."


def test_a_late_build_of_an_older_version_leaves_the_newer_site(db: str, tmp_path: Path) -> None:
    """Two instances publish versions 2 and 3 one after the other; the build of 2 finishes
    last: visitors keep the site of version 3."""
    cfg = Settings.from_env()
    out = tmp_path / "site"
    with open_store(cfg, load_gazetteer(cfg.departement)) as store:
        table = store.load()
        second = store.publish(table.iloc[:4], author="a", base_version=1)
        third = store.publish(table.iloc[:6], author="b", base_version=2)
        key = site_key(store)
        build_site(out, store.load(3), departement="62", version=third, key=key)
        late = build_site(out, store.load(2), departement="62", version=second, key=key)
    assert late.superseded_by == 3
    data = site_data(out)
    assert data["version"] == 3 and len(data["rows"]) == 6
