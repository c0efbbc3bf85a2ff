"""docs/benchmarks.md from one run's results, followed by the hand-written bench/ANALYSIS.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bombs
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
    if getattr(r, "bombs", None) is not None:
        rows.append(bombs.target_row(r.bombs))
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
        f"{' ; mode --quick' if o.quick else ''} ; (h) {o.batches} lots de {o.batch} "
        f"visiteurs, (i) {o.arrivals} arrivées, (j) {o.soak} sessions. "
        "Chaque chiffre : médiane (min–max, n)."
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
    if getattr(r, "visitors", None) is not None or r.browser_runs:
        add(
            "Le public à grande échelle (issue 11) : écart = mesuré − seuil quand l'objectif "
            "est manqué, marge sinon ; chaque mesure est décrite dans sa section (d), (h) à (k)."
        )
        add("")
        add("| objectif | seuil | mesuré (médiane) | résultat |")
        add("|---|---|---|---|")
        for name, threshold, measured, ok in visitor_targets(r):
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
    if r.pages or r.payloads:
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
    if r.browser_runs or getattr(r, "browser_note", ""):
        add(
            "## (d) Chromium : temps jusqu'aux marqueurs dessinés, un visiteur à la fois ; "
            "(f) mémoire"
        )
        add("")
        add(
            "Mesure : Chromium Debian sans tête, requêtes non locales bloquées, "
            "`streamlit run app.py` (CARTO_TILES=none, magasin SQLite prérempli), serveur chaud "
            "(un premier visiteur non compté), visiteurs l'un après l'autre dans un contexte "
            "neuf (cache vide) ; horloge murale de la navigation jusqu'à : « Streamlit prêt » = "
            "le filtre des catégories affiché (page démarrée, première exécution reçue), "
            "« cadre chargé » = l'iframe de la carte chargée (Leaflet prêt, aucun marqueur), "
            "« marqueurs » = exactement N marqueurs dessinés (scrutation toutes les 50 ms) ; "
            "« partie carte » = marqueurs − cadre chargé. Filtre : clic sur une catégorie → "
            "nouveau compte. Octets : trames websocket reçues (décompressées) + fichiers de la "
            "carte. Mémoire : VmHWM du processus streamlit (/proc), pic sur la série."
        )
        add("")
    if getattr(r, "browser_note", ""):
        add(f"**{r.browser_note}**")
        add("")
    if r.browser_runs:
        add(
            "| taille | Streamlit prêt | cadre chargé (démarrage de la page) | **marqueurs** | "
            "partie carte | filtre → marqueurs | octets reçus (ouverture / filtre) | "
            "pic RSS serveur | erreurs |"
        )
        add("|---|---|---|---|---|---|---|---|---|")
        for size, runs in r.browser_runs.items():
            opened = _sample([v.open_s for v in runs])
            app_ready = _sample([getattr(v, "app_s", float("nan")) for v in runs])
            frame = _sample([getattr(v, "frame_s", float("nan")) for v in runs])
            map_part = _sample([v.open_s - getattr(v, "frame_s", float("nan")) for v in runs])
            filtered = _sample([v.filter_s for v in runs])
            ws_open = _sample([float(v.open_ws_bytes) for v in runs if v.open_ws_bytes])
            ws_filter = _sample([float(v.filter_ws_bytes) for v in runs if v.filter_ws_bytes])
            errors = [e for v in runs for e in v.errors]
            add(
                f"| {_label(size, r)} | {fmt(app_ready)} | {fmt(frame)} | **{fmt(opened)}** | "
                f"{fmt(map_part)} | {fmt(filtered)} | "
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
    if getattr(r, "visitors", None) is not None:
        out.extend(visitors_markdown(r))
    if getattr(r, "exports", None) is not None:
        out.extend(exports_markdown(r.exports))
    if r.naive:
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
                f"{n.naive.median / n.ours.median:.1f}×"
                if n.naive.values and n.ours.values
                else "—"
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
    if getattr(r, "bombs", None) is not None:
        out.extend(bombs.markdown(r.bombs))
        add("")
    add("## Reproduire")
    add("")
    add("```sh")
    add("make bench                                   # tout (écrit ce fichier)")
    add(".venv/bin/python bench/run.py --quick        # ~10 min : 1k et 10k, endurance 300")
    add(".venv/bin/python bench/run.py --soak 500     # endurance plus courte")
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
        "visitors": _raw_visitors(getattr(r, "visitors", None)),
        "bombs": bombs.raw(getattr(r, "bombs", None)),
    }


def write_report(r: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(r), encoding="utf-8")
    RAW_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RAW_RESULTS.write_text(json.dumps(_raw(r), indent=1, default=str), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the public at scale


def _label(size: int, r: Any = None) -> str:
    """A size as the report names it: 'graine (18)' for the seed, '10 000' otherwise."""
    if size == 0:
        seed_rows = getattr(r, "seed_rows", 0) if r is not None else 0
        return f"graine ({seed_rows})" if seed_rows else "graine"
    return _n(size)


def _gap(measured: float, threshold: float, unit: str, digits: int = 0) -> str:
    """'écart +6 ms (+10 %)' above the threshold, 'marge 15 ms' below it."""
    if measured != measured:
        return ""
    diff = measured - threshold
    if diff > 0:
        return f"écart +{diff:.{digits}f} {unit} (+{diff / threshold:.0%})"
    return f"marge {-diff:.{digits}f} {unit}"


def visitor_targets(r: Any) -> list[tuple[str, str, str, bool | None]]:
    """(target, threshold, measured with its gap, passed) for issue 11's targets."""
    rows: list[tuple[str, str, str, bool | None]] = []
    v = getattr(r, "visitors", None)
    cpu = v.cpu if v is not None else {}

    def cpu_row(key: str, name: str, limit: float) -> None:
        m = cpu.get(key)
        value = m.per_visitor_ms.median if m is not None else float("nan")
        if value != value:
            rows.append((name, f"≤ {limit:.0f} ms", "—", None))
            return
        rows.append(
            (
                name,
                f"≤ {limit:.0f} ms",
                f"{value:.0f} ms — {_gap(value, limit, 'ms')}",
                value <= limit,
            )
        )

    cpu_row("seed", "graine : CPU serveur par visiteur (ouverture + 1 filtre)", 60)
    seed, minimal = cpu.get("seed"), cpu.get("minimal")
    if seed is not None and minimal is not None:
        ratio = seed.per_visitor_ms.median / minimal.per_visitor_ms.median
        rows.append(
            (
                "graine : CPU par visiteur / page Streamlit minimale (même passage)",
                "≤ 1,0×",
                f"{ratio:.2f}× ({seed.per_visitor_ms.median:.0f} / "
                f"{minimal.per_visitor_ms.median:.0f} ms) — {_gap(ratio, 1.0, '×', 2)}",
                ratio <= 1.0,
            )
        )
    else:
        rows.append(("graine : CPU par visiteur / page minimale", "≤ 1,0×", "—", None))
    cpu_row("10000", "10k : CPU serveur par visiteur", 150)
    for key, name, limit in (("seed", "graine", 2.0), ("10000", "10k", 4.0)):
        c = v.crowds.get(key) if v is not None else None
        title = f"{name} : 50 arrivées ensemble (websocket), ouverture p95, 0 erreur"
        if c is None:
            rows.append((title, f"≤ {limit:.0f} s", "—", None))
            continue
        p95 = c.open_s.percentile(95)
        errors = len(c.errors)
        title = title.replace("50", str(c.arrivals))
        rows.append(
            (
                title,
                f"≤ {limit:.0f} s",
                f"{p95:.2f} s, {errors} erreur(s) — {_gap(p95, limit, 's', 2)}",
                p95 <= limit and errors == 0,
            )
        )
    runs = r.browser_runs.get(0) if getattr(r, "browser_runs", None) else None
    opened = _sample([x.open_s for x in runs]) if runs else Sample(())
    frame = _sample([getattr(x, "frame_s", float("nan")) for x in runs]) if runs else Sample(())
    rows.append(
        (
            "graine : Chromium, navigation → marqueurs (serveur chaud)",
            "≤ 1,5 s",
            f"{opened.median:.2f} s (dont démarrage de la page {frame.median:.2f} s) — "
            f"{_gap(opened.median, 1.5, 's', 2)}"
            if opened.values
            else "—",
            opened.median <= 1.5 if opened.values else None,
        )
    )
    soak = v.soak if v is not None else None
    if soak is not None and soak.growth == soak.growth:
        growth = soak.growth
        rows.append(
            (
                f"endurance : RSS après {soak.sessions} sessions / après 100",
                "≤ 1,15×",
                f"{1 + growth:.3f}× ({len(soak.errors)} erreur(s)) — "
                f"{_gap(1 + growth, 1.15, '×', 3)}",
                growth <= 0.15,
            )
        )
    else:
        rows.append(("endurance : RSS après / après 100 sessions", "≤ 1,15×", "—", None))
    return rows


def _ms(sample: Sample) -> str:
    """Milliseconds: '45 ms (40–50, n=7)'."""
    if not sample.values:
        return "—"
    return f"{sample.median:.1f} ms ({sample.low:.1f}–{sample.high:.1f}, n={len(sample.values)})"


def _visits_per_s(cpu_ms: float) -> float:
    return 1000 / cpu_ms if cpu_ms == cpu_ms and cpu_ms > 0 else float("nan")


def _static_visits_per_s(site: Any) -> float:
    """First visits per second the measured rates allow: the data file once and the other
    requests of a first visit at index.html's rate (they are small files like it)."""
    if site.index is None or site.data is None or site.visit is None:
        return float("nan")
    others = max(site.visit.requests - 1, 0)
    return 1 / (1 / site.data.requests_per_s + others / site.index.requests_per_s)


def visitors_markdown(r: Any) -> list[str]:
    v = r.visitors
    out: list[str] = []
    add = out.append
    cores = r.machine.cores or 1
    add("## (h) CPU serveur par visiteur, contre une page Streamlit minimale")
    add("")
    add(
        "Mesure : tous les serveurs du tableau tournent en même temps ; des lots de "
        f"{v.batch} visiteurs (clients websocket du protocole de Streamlit, sans navigateur : "
        "ouverture de la page puis un changement de filtre, l'un après l'autre) vont à chaque "
        "serveur à tour de rôle ; chaque lot = temps CPU du processus serveur (utime + stime de "
        f"/proc, tous ses fils) / {v.batch} ; médiane (min–max) de {v.batches} lots après 5 "
        "visites de chauffe. Le tour de rôle répartit la charge des autres processus de la "
        "machine sur tous les serveurs. Visiteurs/s = 1 000 / CPU par visiteur (une instance "
        "Streamlit n'utilise qu'un cœur, à cause du GIL)."
    )
    add("")
    add(
        "| serveur | CPU par visiteur | rapport à la page minimale | visiteurs/s par instance "
        "| erreurs |"
    )
    add("|---|---|---|---|---|")
    minimal = v.cpu.get("minimal")
    for m in v.cpu.values():
        ratio = (
            f"{m.per_visitor_ms.median / minimal.per_visitor_ms.median:.2f}×"
            if minimal is not None
            else "—"
        )
        add(
            f"| {m.label} | {_ms(m.per_visitor_ms)} | {ratio} | "
            f"{_visits_per_s(m.per_visitor_ms.median):.0f} | {len(m.errors)}"
            f"{' : ' + '; '.join(m.errors[:2]) if m.errors else ''} |"
        )
    add("")
    if v.crowds:
        add("## (i) Foule : visiteurs arrivant ensemble (clients websocket seuls)")
        add("")
        add(
            "Mesure : N clients websocket (pas de Chromium, qui prendrait les cœurs du serveur) "
            "arrivent en même temps sur un serveur chaud, seul à travailler ; chacun ouvre la "
            "page puis change un filtre. Ouverture = secondes jusqu'à la fin de sa première "
            "exécution de la page (toutes les données reçues) ; p50 / p95 au rang le plus proche. "
            "Débit = N / durée de la foule entière (ouverture + filtre de tous)."
        )
        add("")
        add(
            "| serveur | arrivées | ouverture p50 | ouverture p95 | durée de la foule "
            "| débit observé | erreurs |"
        )
        add("|---|---|---|---|---|---|---|")
        for key, c in v.crowds.items():
            label = v.cpu[key].label if key in v.cpu else key
            wall = v.crowd_wall_s.get(key, float("nan"))
            add(
                f"| {label} | {c.arrivals} | {fmt_seconds(c.open_s.percentile(50))} | "
                f"{fmt_seconds(c.open_s.percentile(95))} | {fmt_seconds(wall)} | "
                f"{c.arrivals / wall:.1f} visiteurs/s | {len(c.errors)}"
                f"{' : ' + '; '.join(c.errors[:2]) if c.errors else ''} |"
            )
        add("")
    if v.soak is not None:
        s = v.soak
        add("## (j) Endurance : mémoire sur des sessions ouvertes puis fermées")
        add("")
        add(
            f"Mesure : serveur neuf sur la graine ; {s.sessions} sessions (clients websocket : "
            "ouverture + un filtre, puis fermeture), 4 à la fois ; RSS du processus (/proc "
            f"VmRSS) toutes les 100 sessions. Durée : {s.seconds:.0f} s ; "
            f"{len(s.errors)} erreur(s). Rapport = RSS final / RSS après 100 sessions."
        )
        add("")
        points = s.rss_mb
        step = max(1, len(points) // 10)
        shown = points[::step] + ([points[-1]] if points[-1] not in points[::step] else [])
        add("| sessions | " + " | ".join(str(done) for done, _ in shown) + " |")
        add("|---" * (len(shown) + 1) + "|")
        add("| RSS (Mo) | " + " | ".join(f"{mb:.0f}" for _, mb in shown) + " |")
        add("")
        if s.growth == s.growth:
            add(f"RSS final / après 100 sessions : {1 + s.growth:.3f}×.")
        else:
            add("Moins de 100 sessions : pas de rapport à l'objectif.")
        add("")
    if v.sites or v.cpu:
        add("## (k) Site statique sous nginx, et visiteurs Streamlit, sur la même machine")
        add("")
        add(
            "Mesure : `carto site build` du même magasin, servi par le nginx de Debian avec la "
            "configuration de docs/deployment.md §3 bis (seuls le port et le dossier changent), "
            "chargé par wrk (Debian) sur localhost, 64 connexions, 2 fils, "
            f"{getattr(r.options, 'wrk_seconds', 10)} s par fichier, `Accept-Encoding: gzip` ; "
            "wrk et nginx partagent les cœurs de la machine. Nom du fichier de données lu dans le "
            "site construit. Première visite : une visite Chromium cache vide, octets des "
            "entrées Resource Timing (transférés = compressés, décodés = non compressés). "
            "Visiteurs/s du site = 1 / (1/débit du fichier de données + (requêtes − 1)/débit "
            "d'index.html). Visiteurs/s Streamlit = 1 000 / CPU par visiteur (h), × "
            f"{cores} instances pour la machine ({cores} cœurs)."
        )
        add("")
        add("| service | mesure | débit | latence | première visite | visiteurs/s (machine) |")
        add("|---|---|---|---|---|---|")
        for key in ("seed", "10000"):
            m = v.cpu.get(key)
            if m is None:
                continue
            per = _visits_per_s(m.per_visitor_ms.median)
            crowd = v.crowds.get(key)
            latency = (
                f"p95 {fmt_seconds(crowd.open_s.percentile(95))} ({crowd.arrivals} arrivées)"
                if crowd is not None
                else "—"
            )
            add(
                f"| Streamlit — {m.label} | CPU par visiteur {m.per_visitor_ms.median:.0f} ms "
                f"| {per:.0f} visiteurs/s par instance | {latency} | — | "
                f"**{per * cores:.0f}** |"
            )
        for site in v.sites:
            if site.missing or site.error:
                why = "; ".join(site.missing or []) or site.error
                add(f"| site statique — {site.label} | non mesuré : {why} | — | — | — | — |")
                if not (site.index and site.data):
                    continue
            visit = site.visit
            first = (
                f"{visit.requests} requêtes, {fmt_bytes(visit.transferred)} transférés, "
                f"{fmt_bytes(visit.decoded)} décodés"
                if visit is not None
                else "—"
            )
            for w in (site.index, site.data):
                if w is None:
                    continue
                add(
                    f"| site statique — {site.label} | `{w.path}` | "
                    f"{w.requests_per_s:,.0f} req/s".replace(",", " ")
                    + f" | p99 {w.p99_ms:.1f} ms (p50 {w.p50_ms:.1f} ms), {w.errors} erreur(s) "
                    f"| {first if w is site.index else '—'} | "
                    + (
                        f"**{_static_visits_per_s(site):,.0f}**".replace(",", " ")
                        if w is site.index
                        and _static_visits_per_s(site) == _static_visits_per_s(site)
                        else "—"
                    )
                    + " |"
                )
        seed = v.cpu.get("seed")
        statics = [_static_visits_per_s(s) for s in v.sites if s.label == "graine"]
        if seed is not None and statics and statics[0] == statics[0]:
            static_ratio = statics[0] / (_visits_per_s(seed.per_visitor_ms.median) * cores)
            add("")
            times = f"{static_ratio:,.0f}".replace(",", " ")
            add(
                f"À la graine, la machine sert **{times} fois plus** de premières visites "
                "par seconde avec le site statique qu'avec Streamlit."
            )
        add("")
    return out


def _raw_visitors(v: Any) -> Any:
    if v is None:
        return None
    return {
        "cpu": {
            k: {"label": m.label, **m.per_visitor_ms.to_json(), "errors": m.errors}
            for k, m in v.cpu.items()
        },
        "crowds": {
            k: {
                "arrivals": c.arrivals,
                "open_s": c.open_s.to_json(),
                "errors": list(c.errors),
                "wall_s": v.crowd_wall_s.get(k),
            }
            for k, c in v.crowds.items()
        },
        "soak": None
        if v.soak is None
        else {
            "sessions": v.soak.sessions,
            "seconds": v.soak.seconds,
            "rss_mb": v.soak.rss_mb,
            "errors": v.soak.errors[:20],
        },
        "sites": [
            {
                "label": s.label,
                "index": None if s.index is None else vars(s.index),
                "data": None if s.data is None else vars(s.data),
                "visit": None if s.visit is None else vars(s.visit),
                "missing": s.missing,
                "error": s.error,
            }
            for s in v.sites
        ],
    }
