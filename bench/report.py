"""docs/benchmarks.md from one run's results, followed by the hand-written bench/ANALYSIS.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from measure import Sample, fmt, fmt_bytes, fmt_seconds

ANALYSIS = Path(__file__).resolve().parent / "ANALYSIS.md"
RAW_RESULTS = Path(__file__).resolve().parents[1] / ".cache" / "bench" / "results.json"
MB = 1e6


def _sample(values: list[float]) -> Sample:
    return Sample(tuple(v for v in values if v == v))


def _n(size: int) -> str:
    return f"{size:,}".replace(",", " ")


def _status(ok: bool | None) -> str:
    if ok is None:
        return "non mesuré"
    return "**PASS**" if ok else "**FAIL**"


def targets(r: Any) -> list[tuple[str, str, str, bool | None]]:
    """(target, threshold, measured, passed) rows."""
    rows: list[tuple[str, str, str, bool | None]] = []
    geo = r.geocoding
    if geo is not None:
        rows.append(
            (
                f"géocodage hors ligne de {_n(geo.rows)} lignes",
                "< 0,5 s",
                fmt_seconds(geo.offline.median),
                geo.offline.median < 0.5,
            )
        )
    page = r.pages.get(10_000)
    rows.append(
        (
            "10k : changement de filtre, temps serveur (1 catégorie)",
            "< 0,5 s",
            fmt_seconds(page.filter_narrow.median) if page else "—",
            page.filter_narrow.median < 0.5 if page else None,
        )
    )
    payload = r.payloads.get(10_000)
    rows.append(
        (
            "10k : données de la carte envoyées au navigateur",
            "< 1,5 Mo",
            fmt_bytes(payload.total_bytes) if payload else "—",
            payload.total_bytes < 1.5 * MB if payload else None,
        )
    )
    runs = r.browser_runs.get(10_000)
    opened = _sample([v.open_s for v in runs]) if runs else Sample(())
    rows.append(
        (
            "10k : marqueurs dessinés dans Chromium (navigation → N marqueurs)",
            "< 2 s",
            fmt_seconds(opened.median) if opened.values else "—",
            opened.median < 2 if opened.values else None,
        )
    )
    naive = r.naive.get(10_000)
    if naive is not None and naive.naive.values:
        ratio = naive.naive.median / naive.ours.median
        rows.append(("10k : plus rapide que la carte naïve", "≥ 20×", f"{ratio:.1f}×", ratio >= 20))
    else:
        rows.append(("10k : plus rapide que la carte naïve", "≥ 20×", "—", None))
    page = r.pages.get(50_000)
    rows.append(
        (
            "50k : changement de filtre, temps serveur (1 catégorie)",
            "< 2 s",
            fmt_seconds(page.filter_narrow.median) if page else "—",
            page.filter_narrow.median < 2 if page else None,
        )
    )
    rss = r.server_rss.get(50_000)
    rows.append(
        (
            "50k : mémoire du serveur (pic RSS, VmHWM)",
            "< 400 Mo",
            f"{rss:.0f} Mo" if rss else "—",
            rss < 400 if rss else None,
        )
    )
    rows.append(export_target(getattr(r, "exports", None)))
    return rows


def export_target(exports: Any) -> tuple[str, str, str, bool | None]:
    """20k: `carto export --format xlsx` at most 3x `--format csv` (CPU time, medians)."""
    name = "20k : `carto export` XLSX / CSV, mêmes lignes (temps CPU)"
    size = exports.target if exports is not None else None
    ratio = size.ratio() if size is not None else float("nan")
    if ratio != ratio:
        return (name, "≤ 3×", "—", None)
    return (name, "≤ 3×", f"{ratio:.2f}×", ratio <= 3)


def exports_markdown(exports: Any) -> list[str]:
    """Section (g): seconds of CPU per format and size, the XLSX/CSV ratios, the target."""
    out = ["## (g) Exports CSV et XLSX", ""]
    out.append(
        "`carto export --format csv|xlsx` dans ce processus (`carto.cli.main`, magasin SQLite "
        "du jeu, fichier écrit dans un dossier temporaire), formats alternés à chaque "
        f"répétition (n={exports.repeats}), **temps CPU** du processus (`time.process_time`). "
        "« `export_table` » : la mise en forme seule, sans le magasin. Rapport : médiane XLSX "
        "/ médiane CSV."
    )
    out.append("")
    out.append(
        "| lignes | `carto export` CSV | `carto export` XLSX | rapport | `export_table` CSV | "
        "`export_table` XLSX | rapport | taille CSV / XLSX |"
    )
    out.append("|---|---|---|---|---|---|---|---|")
    for size in sorted(exports.sizes):
        e = exports.sizes[size]
        ratio, fn_ratio = e.ratio(), e.ratio("function")
        files = e.file_bytes
        out.append(
            f"| {_n(e.rows)} | {fmt(e.command['csv'])} | {fmt(e.command['xlsx'])} | "
            f"{'—' if ratio != ratio else f'{ratio:.2f}×'} | {fmt(e.function['csv'])} | "
            f"{fmt(e.function['xlsx'])} | {'—' if fn_ratio != fn_ratio else f'{fn_ratio:.2f}×'} | "
            f"{fmt_bytes(files.get('csv', float('nan')))} / "
            f"{fmt_bytes(files.get('xlsx', float('nan')))} |"
        )
    name, threshold, measured, ok = export_target(exports)
    out += ["", f"Objectif : {name} {threshold} — mesuré {measured} : {_status(ok)}", ""]
    return out


def render(r: Any) -> str:
    m = r.machine
    o = r.options
    out: list[str] = []
    add = out.append
    add("# Performances (banc d'essai)")
    add("")
    add(
        "> Fichier **généré** par `make bench` (`bench/run.py`) — ne pas modifier à la main ; "
        "l'analyse en fin de page vient de `bench/ANALYSIS.md`."
    )
    add("")
    add(
        f"Mesuré le {r.started:%Y-%m-%d à %H:%M} ({r.started:%Z}), durée du banc : "
        f"{r.duration_s / 60:.1f} min. Options : tailles {', '.join(_n(s) for s in r.sizes)} ; "
        f"répétitions {o.repeats} (lentes : {o.slow_repeats}, navigateur : {o.browser_repeats})"
        f"{' ; mode --quick' if o.quick else ''}. Chaque chiffre : médiane (min–max, n)."
    )
    add("")
    add("## Machine et versions")
    add("")
    add(f"- Code mesuré : {r.code}")
    add(f"- Processeur : {m.cpu} — {m.cores} cœurs utilisables ; mémoire : {m.ram_gb} Go")
    add(f"- Système : {m.system}")
    add(
        "- Charge moyenne (1/5/15 min) au début : "
        + " / ".join(f"{v:.1f}" for v in r.load_before)
        + " ; à la fin : "
        + " / ".join(f"{v:.1f}" for v in r.load_after)
        + " (la machine est partagée : une charge > 0 au début vient d'autres processus)"
    )
    add("- " + " ; ".join(f"{k} {v}" for k, v in m.versions.items()))
    add("")
    add("## Objectifs")
    add("")
    add("| objectif | seuil | mesuré (médiane) | résultat |")
    add("|---|---|---|---|")
    for name, threshold, measured, ok in targets(r):
        add(f"| {name} | {threshold} | {measured} | {_status(ok)} |")
    add("")
    add("## Jeux de données")
    add("")
    add(
        "Générés par `bench/datasets.py` (graine fixe) sur les 887 communes réelles du "
        "référentiel 62, tirées au prorata de la population : noms de 20 à 80 caractères, "
        "descriptions accentuées de 100 à 600 caractères, 35 % avec contacts, 5 catégories, "
        "~10 % de portée secteur/arrondissement/département, 40 % avec code INSEE, 10 % avec "
        "coordonnées explicites. Passés par la chaîne de l'application (lecture, validation, "
        "géocodage) puis publiés en version 1 d'un magasin SQLite (`.cache/bench/`, non versionné)."
    )
    add("")
    add("| taille | lignes placées sur la carte |")
    add("|---|---|")
    for size in r.sizes:
        add(f"| {_n(size)} | {_n(r.rows.get(size, 0))} |")
    add("")
    geo = r.geocoding
    if geo is not None:
        add(f"## (a) Géocodage de {_n(geo.rows)} lignes")
        add("")
        add("| mesure | temps |")
        add("|---|---|")
        add(f"| `geocode_table` + `OfflineGeocoder` (hors ligne) | {fmt(geo.offline)} |")
        add(
            f"| chaîne complète `dataset.prepare` (validation + géocodage) | "
            f"{fmt(geo.whole_pipeline)} |"
        )
        labels = {"ban": "BAN (50 req/s)", "nominatim": "Nominatim (1 req/s)"}
        for provider, (distinct, per_row) in geo.online_s.items():
            add(
                f"| {labels.get(provider, provider)} via geopy, calculé (jamais appelé) : "
                f"{_n(geo.distinct_queries)} requêtes distinctes / {_n(geo.rows_to_geocode)} "
                f"lignes sans coordonnées | {fmt_seconds(distinct)} (requêtes distinctes, cache) "
                f"; {fmt_seconds(per_row)} (une requête par ligne) |"
            )
        add("")
    add("## (b) Temps serveur de la page (AppTest sur app.py, CARTO_TILES=none)")
    add("")
    add(
        "« Premier affichage à froid » : caches Streamlit vidés (premier visiteur après un "
        "démarrage) ; « à chaud » : nouvelle session, caches pleins. Le filtre passe à une "
        "catégorie (« Personnels soignants », ~20 % des lignes) puis revient à toutes."
    )
    add("")
    add(
        "| taille | 1er affichage à froid | 1er affichage à chaud | filtre → 1 catégorie |"
        " filtre → toutes |"
    )
    add("|---|---|---|---|---|")
    for size, p in r.pages.items():
        add(
            f"| {_n(size)} | {fmt(p.cold_first_run)} | {fmt(p.warm_first_run)} | "
            f"{fmt(p.filter_narrow)} | {fmt(p.filter_all)} |"
        )
    add("")
    add("## (c) Données de la carte envoyées au navigateur")
    add("")
    add(
        "Tout ce que reçoit le navigateur pour la carte d'une vue, construit comme le fait "
        "`carto.ui` : les arguments de `st_folium` (fond de carte : script Leaflet + en-tête + "
        "html ; couche des marqueurs : `feature_group_to_add`, qui ne contient qu'une URL), "
        "plus les fichiers statiques qu'il télécharge : contours (communes et arrondissements, "
        "identiques pour toutes les vues, donc mis en cache) et le fichier de données des "
        "marqueurs de la vue. Octets UTF-8 non compressés ; dernière colonne : le tout "
        "compressé (zlib 6). 1 Mo = 10⁶ octets."
    )
    add("")
    add(
        "| taille | fond de carte | couche marqueurs | arguments JSON | fichiers contours |"
        " fichier marqueurs | **total** | total compressé |"
    )
    add("|---|---|---|---|---|---|---|---|")
    for size, p in r.payloads.items():
        add(
            f"| {_n(size)} | {fmt_bytes(p.base_bytes)} | {fmt_bytes(p.markers_bytes)} | "
            f"{fmt_bytes(p.total_json_bytes)} | {fmt_bytes(p.styler_bytes)} | "
            f"{fmt_bytes(p.data_bytes)} | **{fmt_bytes(p.total_bytes)}** | "
            f"{fmt_bytes(p.total_deflate_bytes + p.files_deflate_bytes)} |"
        )
    add("")
    add("Temps Python de ces étapes (hors Streamlit) :")
    add("")
    names = list(next(iter(r.payloads.values())).times) if r.payloads else []
    add("| taille | " + " | ".join(f"`{n}`" for n in names) + " |")
    add("|---" * (len(names) + 1) + "|")
    for size, p in r.payloads.items():
        add(f"| {_n(size)} | " + " | ".join(fmt(p.times[n]) for n in names) + " |")
    add("")
    if r.browser_runs:
        add("## (d) Chromium sans réseau : temps jusqu'aux marqueurs dessinés, (f) mémoire")
        add("")
        add(
            "Chromium Debian sans tête, requêtes non locales bloquées ; `streamlit run app.py` "
            "(CARTO_TILES=none, magasin SQLite prérempli). Temps mesurés de la navigation "
            "jusqu'à ce que l'iframe de la carte montre exactement N marqueurs "
            "(`path.carto-initiative` en SVG, sinon les couches Leaflet des groupes posés sur la "
            "carte : rendu canvas) "
            "(scrutation toutes les 50 ms), puis du clic sur la catégorie jusqu'au nouveau "
            "compte. Octets : trames websocket reçues (décompressées) plus les fichiers statiques "
            "de la carte (contours, données des marqueurs ; en-tête Content-Length). "
            "Mémoire : VmHWM du "
            "processus streamlit (/proc), pic sur toute la série."
        )
        add("")
        add(
            "| taille | navigation → marqueurs | filtre → marqueurs | octets reçus "
            "(ouverture / filtre) | pic RSS serveur | erreurs |"
        )
        add("|---|---|---|---|---|---|")
        for size, runs in r.browser_runs.items():
            opened = _sample([v.open_s for v in runs])
            filtered = _sample([v.filter_s for v in runs])
            ws_open = _sample([float(v.open_ws_bytes) for v in runs if v.open_ws_bytes])
            ws_filter = _sample([float(v.filter_ws_bytes) for v in runs if v.filter_ws_bytes])
            errors = [e for v in runs for e in v.errors]
            add(
                f"| {_n(size)} | {fmt(opened)} | {fmt(filtered)} | "
                f"{fmt_bytes(ws_open.median)} / {fmt_bytes(ws_filter.median)} | "
                f"{r.server_rss.get(size, float('nan')):.0f} Mo | "
                f"{len(errors)}{' : ' + '; '.join(errors[:2]) if errors else ''} |"
            )
        blocked = sorted({u for runs in r.browser_runs.values() for v in runs for u in v.blocked})
        add("")
        add(
            f"Requêtes non locales bloquées : {len(blocked)} URL distincte(s)"
            + (f" ({', '.join(blocked)})." if blocked else ".")
        )
        add("")
    if r.crowds:
        add("## (4) Visiteurs simultanés")
        add("")
        add(
            "Tous arrivent en même temps, ouvrent la carte puis choisissent une catégorie. "
            "Quelques-uns sont de vraies pages Chromium (temps jusqu'aux marqueurs dessinés) ; "
            "les autres sont des clients websocket parlant le protocole de Streamlit (temps "
            "jusqu'à la fin de l'exécution de la page, toutes les données reçues) : ils coûtent "
            "au serveur autant qu'un navigateur sans faire dessiner des milliers de marqueurs "
            "sur les 2 mêmes cœurs. p50 / p95 (rang le plus proche)."
        )
        add("")
        add(
            "| visiteurs (dont Chromium) | taille | Chromium : ouverture p50 / p95 | "
            "Chromium : filtre p50 / p95 | websocket : ouverture p50 / p95 | "
            "websocket : filtre p50 / p95 | erreurs | durée totale | pic RSS |"
        )
        add("|---|---|---|---|---|---|---|---|---|")
        for c in r.crowds:

            def pp(s: Sample) -> str:
                if not s.values:
                    return "—"
                return f"{fmt_seconds(s.percentile(50))} / {fmt_seconds(s.percentile(95))}"

            add(
                f"| {c.viewers} ({c.browsers}) | {_n(o.crowd_size)} | {pp(c.browser_open)} | "
                f"{pp(c.browser_filter)} | {pp(c.socket_open)} | {pp(c.socket_filter)} | "
                f"{len(c.errors)}{' : ' + '; '.join(c.errors[:2]) if c.errors else ''} | "
                f"{fmt_seconds(c.wall_s)} | {c.peak_rss_mb:.0f} Mo |"
            )
        add("")
    if getattr(r, "exports", None) is not None:
        out.extend(exports_markdown(r.exports))
    add("## (e) Notre carte contre la carte naïve")
    add("")
    add(
        "À conditions égales (marqueurs seuls, sans contours) : `build_map` + "
        "`get_root().render()` contre `build_naive_map` (un `folium.Marker` + `Popup` par "
        "ligne) + rendu. Taille : HTML produit."
    )
    add("")
    add("| taille | notre carte | HTML | naïve | HTML | rapport |")
    add("|---|---|---|---|---|---|")
    for size, n in r.naive.items():
        ratio = (
            f"{n.naive.median / n.ours.median:.1f}×" if n.naive.values and n.ours.values else "—"
        )
        add(
            f"| {_n(size)} | {fmt(n.ours)} | {fmt_bytes(n.ours_bytes)} | {fmt(n.naive)} | "
            f"{fmt_bytes(n.naive_bytes) if n.naive_bytes else '—'} | {ratio} |"
        )
    add("")
    if r.profiles:
        add("## Profil (cProfile) d'un changement de filtre")
        add("")
        add(
            "Une exécution de la page (filtre → 1 catégorie) sous cProfile ; seules les "
            "fonctions du projet, de folium, branca et streamlit-folium sont listées. Le "
            "profileur ralentit le code : comparer les parts, pas les durées absolues."
        )
        for label, (total, lines) in r.profiles.items():
            add("")
            add(f"**{_n(int(label))} initiatives** — exécution profilée : {fmt_seconds(total)}")
            add("")
            add("| fonction | cumulé | part | propre | appels |")
            add("|---|---|---|---|---|")
            for line in lines:
                share = line.cumulative_s / total * 100 if total else 0
                add(
                    f"| `{line.function}` | {fmt_seconds(line.cumulative_s)} | {share:.0f} % | "
                    f"{fmt_seconds(line.own_s)} | {line.calls} |"
                )
        add("")
    add("## Reproduire")
    add("")
    add("```sh")
    add("make bench                                   # tout (écrit ce fichier)")
    add(".venv/bin/python bench/run.py --quick        # 1k et 10k, peu de répétitions")
    add(".venv/bin/python bench/run.py --help         # tailles, répétitions, foules…")
    add("```")
    add("")
    add(
        "Les jeux générés et les magasins SQLite sont mis en cache dans `.cache/bench/` "
        "(supprimer ce dossier pour les régénérer) ; les mesures brutes y sont écrites dans "
        "`results.json`. Aucune requête ne sort de la machine."
    )
    add("")
    out.append(analysis_section())
    return "\n".join(out)


ANALYSIS_MARKER = "<!-- analyse : recopiée de bench/ANALYSIS.md -->"


def analysis_section() -> str:
    text = ANALYSIS.read_text(encoding="utf-8").rstrip() if ANALYSIS.is_file() else ""
    return f"{ANALYSIS_MARKER}\n{text}\n"


def refresh_analysis(path: Path) -> Path:
    """Replace the analysis at the end of an existing report (figures untouched)."""
    current = path.read_text(encoding="utf-8")
    head = current.split(ANALYSIS_MARKER, 1)[0].rstrip("\n")
    path.write_text(f"{head}\n\n{analysis_section()}", encoding="utf-8")
    return path


def _raw(r: Any) -> dict[str, Any]:
    def sample(s: Sample) -> dict[str, Any]:
        return s.to_json()

    return {
        "started": r.started.isoformat(),
        "machine": {
            "cpu": r.machine.cpu,
            "cores": r.machine.cores,
            "ram_gb": r.machine.ram_gb,
            "versions": r.machine.versions,
        },
        "geocoding": None
        if r.geocoding is None
        else {
            "offline": sample(r.geocoding.offline),
            "whole_pipeline": sample(r.geocoding.whole_pipeline),
            "online_s": r.geocoding.online_s,
        },
        "pages": {
            size: {
                k: sample(getattr(p, k))
                for k in ("cold_first_run", "warm_first_run", "filter_narrow", "filter_all")
            }
            for size, p in r.pages.items()
        },
        "payloads": {
            size: {
                "base": p.base_bytes,
                "markers": p.markers_bytes,
                "json": p.total_json_bytes,
                "outline_files": p.styler_bytes,
                "marker_file": p.data_bytes,
                "total": p.total_bytes,
                "deflate": p.total_deflate_bytes + p.files_deflate_bytes,
                "times": {k: sample(v) for k, v in p.times.items()},
            }
            for size, p in r.payloads.items()
        },
        "naive": {
            size: {"ours": sample(n.ours), "naive": sample(n.naive)} for size, n in r.naive.items()
        },
        "browser": {size: [vars(v) for v in runs] for size, runs in r.browser_runs.items()},
        "server_rss_mb": r.server_rss,
        "exports": None
        if getattr(r, "exports", None) is None
        else {
            size: {
                "rows": e.rows,
                "command": {k: sample(v) for k, v in e.command.items()},
                "function": {k: sample(v) for k, v in e.function.items()},
                "file_bytes": e.file_bytes,
                "note": e.note,
            }
            for size, e in r.exports.sizes.items()
        },
        "crowds": [
            {
                "viewers": c.viewers,
                "browsers": c.browsers,
                "browser_open": sample(c.browser_open),
                "browser_filter": sample(c.browser_filter),
                "socket_open": sample(c.socket_open),
                "socket_filter": sample(c.socket_filter),
                "errors": list(c.errors),
                "wall_s": c.wall_s,
                "peak_rss_mb": c.peak_rss_mb,
            }
            for c in r.crowds
        ],
    }


def write_report(r: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(r), encoding="utf-8")
    RAW_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RAW_RESULTS.write_text(json.dumps(_raw(r), indent=1, default=str), encoding="utf-8")
    return path
