"""Areas that an initiative covers: the `zone` cell read as the département, arrondissements,
intercommunalités (EPCI) or communes, and the outline of such an area.

A zone has a canonical `key` ("epci:200069037+epci:246200364", "departement:62",
"arrondissement:621", "communes:62160+62413") that the published table stores and the map,
filters and exports read back; `zone_geometry` turns a key into one GeoJSON (Multi)Polygon.
Resolution is deterministic and offline, from the gazetteer; geometry needs shapely.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz

from carto.errors import ZoneError
from carto.gazetteer.names import normalize_name
from carto.models import Epci, Issue
from carto.text import INSEE_RE, fold_key

if TYPE_CHECKING:
    from carto.gazetteer import Gazetteer

# Kinds of a key's parts, in the order the key and the label list them.
DEPARTEMENT = "departement"
ARRONDISSEMENT = "arrondissement"
EPCI = "epci"
COMMUNES = "communes"
_KINDS = (DEPARTEMENT, ARRONDISSEMENT, EPCI, COMMUNES)

# Bounds against hostile cells: the field is 500 characters at most anyway.
MAX_ZONE_TEXT = 2000
MAX_PARTS = 100

_SIREN_RE = re.compile(r"^\d{9}$")
# EPCI type abbreviations and their spelled-out words (folded), longest first when matching.
_EPCI_TYPES: dict[str, tuple[str, ...]] = {
    "CA": ("communaute", "d", "agglomeration"),
    "CC": ("communaute", "de", "communes"),
    "CU": ("communaute", "urbaine"),
    "METRO": ("metropole",),
}
_TYPE_WORDS: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    sorted(
        [
            *((words, kind) for kind, words in _EPCI_TYPES.items()),
            (("communaute", "de", "l", "agglomeration"), "CA"),
            (("communaute", "des", "communes"), "CC"),
            (("agglomeration",), "CA"),
            (("agglo",), "CA"),
            (("ca",), "CA"),
            (("cc",), "CC"),
            (("cu",), "CU"),
        ],
        key=lambda item: -len(item[0]),
    )
)
# Words that carry no meaning in an area's name: "CA du Pays de Saint-Omer" ~ "Pays Saint-Omer".
_LINK_WORDS = frozenset({"de", "du", "des", "d", "la", "le", "les", "l", "en", "et"})
_DEPARTEMENT_WORDS = frozenset({"departement", "dept", "dpt", "tout", "le", "du", "de", "d"})
_ARRONDISSEMENT_WORDS = ("arrondissement", "arrondissements", "arrdt", "arr")
_SUGGESTION_CUTOFF = 60


@dataclass(frozen=True)
class Zone:
    """An area: its canonical key, French label, and the INSEE codes and arrondissement codes
    it covers (sorted)."""

    key: str
    label: str
    communes: tuple[str, ...]
    arrondissements: tuple[str, ...]


@dataclass(frozen=True)
class _Part:
    kind: str
    code: str  # département, arrondissement or SIREN code; INSEE code for a commune


def resolve_zone(text: str, gazetteer: Gazetteer) -> Zone:
    """The area a `zone` cell names; raises ZoneError naming the part not recognised.

    Parts are separated by « ; »; a part that is not a name as a whole may also be a list
    separated by « , » (EPCI names hold commas: « CA de Béthune-Bruay, Artois-Lys Romane »),
    taken only when every item of it is recognised.
    """
    if len(text) > MAX_ZONE_TEXT:
        raise ZoneError(
            f"Zone trop longue ({len(text)} caractères, {MAX_ZONE_TEXT} au plus).", part=text[:80]
        )
    pieces = [p.strip() for p in text.split(";")]
    pieces = [p for p in pieces if p]
    if not pieces:
        raise ZoneError("Zone vide.", part="")
    if len(pieces) > MAX_PARTS:
        raise ZoneError(f"Zone en trop de parties ({len(pieces)}, {MAX_PARTS} au plus).", part="")
    parts: list[_Part] = []
    for piece in pieces:
        parts.extend(_resolve_piece(piece, gazetteer))
    return _zone_of(parts, gazetteer)


def zone_from_key(key: str, gazetteer: Gazetteer) -> Zone | None:
    """The zone a canonical key stands for, or None when the key is not one of ours."""
    parts = _parse_key(key, gazetteer)
    return _zone_of(parts, gazetteer) if parts else None


def zone_issue(
    error: ZoneError, *, row: int, value: str, column: str = "zone", commune: str = ""
) -> Issue:
    """The import warning of a zone that is not recognised: the row stays a point."""
    where = f" à {commune}" if commune else ""
    hint = (
        "Écrivez par exemple « Pas-de-Calais », « arrondissement de Calais », une "
        "intercommunalité (« CA de Lens - Liévin » ou son SIREN) ou des communes séparées par "
        f"« ; ». En attendant, l’initiative est montrée comme un point{where}."
    )
    if error.suggestions:
        hint = "Vouliez-vous dire : " + ", ".join(error.suggestions) + " ? " + hint
    return Issue(
        "warning",
        str(error),
        row=row,
        column=column,
        value=value,
        hint=hint,
        suggestions=error.suggestions,
        code="zone_inconnue",
    )


# -- resolution of one piece


def _resolve_piece(piece: str, gazetteer: Gazetteer) -> list[_Part]:
    found = _resolve_name(piece, gazetteer)
    if found is not None:
        return [found]
    if "," in piece:
        items = [i.strip() for i in piece.split(",") if i.strip()]
        if len(items) > MAX_PARTS:
            raise ZoneError(
                f"Zone en trop de parties ({len(items)}, {MAX_PARTS} au plus).", part=""
            )
        resolved = [_resolve_name(item, gazetteer) for item in items]
        if all(r is not None for r in resolved):
            return [r for r in resolved if r is not None]
        # Name the first item not recognised, as the message does for « ; » parts.
        piece = next(i for i, r in zip(items, resolved, strict=True) if r is None)
    raise ZoneError(
        f"Zone « {piece} » non reconnue : ni le département, ni un arrondissement, ni une "
        "intercommunalité, ni une commune du référentiel.",
        part=piece,
        suggestions=_suggest(piece, gazetteer),
    )


def _resolve_name(text: str, gazetteer: Gazetteer) -> _Part | None:
    words = fold_key(text).split()
    if not words:
        return None
    joined = " ".join(words)
    # Codes: département, SIREN of an EPCI, INSEE code of a commune.
    if joined == gazetteer.departement.lower():
        return _Part(DEPARTEMENT, gazetteer.departement)
    if _SIREN_RE.match(joined):
        epci = gazetteer.epci(joined)
        return _Part(EPCI, epci.siren) if epci else None
    if INSEE_RE.match(joined):
        commune = gazetteer.by_insee(joined)
        return _Part(COMMUNES, commune.code_insee) if commune else None
    departement = _departement(words, gazetteer)
    if departement is not None:
        return departement
    if words[0] in _ARRONDISSEMENT_WORDS:
        return _arrondissement(words[1:], gazetteer)
    kind, core = _epci_words(words)
    if kind is None:
        # A bare name is a commune first: « Arras » is the town, not the CU d'Arras.
        exact = gazetteer.find(text)
        if len(exact) == 1:
            return _Part(COMMUNES, exact[0].code_insee)
    epci = _epci(kind, core, gazetteer)
    if epci is not None:
        return _Part(EPCI, epci.siren)
    if kind is None:
        match = gazetteer.lookup(text)
        if len(match.communes) == 1 and match.kind in ("loose", "prefix", "ancien_nom"):
            return _Part(COMMUNES, match.communes[0].code_insee)
    return None


def _departement(words: list[str], gazetteer: Gazetteer) -> _Part | None:
    code = gazetteer.departement.lower()
    name = [w for w in fold_key(gazetteer.departement_nom).split() if w not in _DEPARTEMENT_WORDS]
    rest = [w for w in words if w not in _DEPARTEMENT_WORDS and w != code]
    if (not rest and "departement" in words) or (name and rest == name):
        return _Part(DEPARTEMENT, gazetteer.departement)
    return None


def _arrondissement(words: list[str], gazetteer: Gazetteer) -> _Part | None:
    rest = [w for w in words if w not in _LINK_WORDS]
    if len(rest) == 1 and rest[0].isdigit():
        code = rest[0]
        known = {a.code for a in gazetteer.arrondissements}
        code = code if code in known else gazetteer.departement + code
        return _Part(ARRONDISSEMENT, code) if code in known else None
    key = normalize_name(" ".join(rest))
    for arrondissement in gazetteer.arrondissements:
        if normalize_name(arrondissement.nom) == key or (
            # « arrondissement de Montreuil-sur-Mer », « de Boulogne »: a whole-word prefix.
            key
            and (
                normalize_name(arrondissement.nom).startswith(key + " ")
                or key.startswith(normalize_name(arrondissement.nom) + " ")
            )
        ):
            return _Part(ARRONDISSEMENT, arrondissement.code)
    return None


def _epci_words(words: list[str]) -> tuple[str | None, list[str]]:
    """The EPCI type a text starts with (None when it names none), and its meaningful words."""
    for type_words, kind in _TYPE_WORDS:
        if tuple(words[: len(type_words)]) == type_words:
            return kind, _core(words[len(type_words) :])
    return None, _core(words)


def _core(words: Iterable[str]) -> list[str]:
    return [w for w in words if w not in _LINK_WORDS]


@functools.lru_cache(maxsize=8)
def _epci_index(epcis: tuple[Epci, ...]) -> tuple[tuple[Epci, str | None, tuple[str, ...]], ...]:
    index = []
    for epci in epcis:
        kind, core = _epci_words(fold_key(epci.nom).split())
        index.append((epci, kind or epci.type, tuple(core)))
    return tuple(index)


def _epci(kind: str | None, core: Sequence[str], gazetteer: Gazetteer) -> Epci | None:
    """The one EPCI whose name holds `core` as a run of whole words (of that type if given).

    « Béthune-Bruay » and « Artois-Lys Romane » both name the CA de Béthune-Bruay, Artois-Lys
    Romane; « Artois » names three EPCI, hence none.
    """
    if not core:
        return None
    query = tuple(core)
    exact: list[Epci] = []
    within: list[Epci] = []
    for epci, epci_kind, words in _epci_index(gazetteer.epcis):
        if kind is not None and epci_kind != kind:
            continue
        if words == query:
            exact.append(epci)
        elif _holds_run(words, query):
            within.append(epci)
    if len(exact) == 1:
        return exact[0]
    if not exact and len(within) == 1:
        return within[0]
    return None


def _holds_run(words: Sequence[str], query: Sequence[str]) -> bool:
    size = len(query)
    return any(tuple(words[i : i + size]) == tuple(query) for i in range(len(words) - size + 1))


def _suggest(text: str, gazetteer: Gazetteer, *, limit: int = 3) -> tuple[str, ...]:
    """Names close to `text` among the areas and communes, best first."""
    key = fold_key(text)
    if not key:
        return ()
    names = [
        gazetteer.departement_nom,
        *(_arrondissement_label(a.nom) for a in gazetteer.arrondissements),
        *(e.nom for e in gazetteer.epcis),
    ]
    keys = [fold_key(n) for n in names]
    # Compare against the name without its "arrondissement de" / "CA du" prefix too.
    scored: dict[str, float] = {}
    for name, name_key in zip(names, keys, strict=True):
        _, core = _epci_words(name_key.split())
        bare = " ".join(w for w in core if w not in _ARRONDISSEMENT_WORDS)
        score = max(fuzz.WRatio(key, name_key), fuzz.ratio(" ".join(_core(key.split())), bare))
        if score >= _SUGGESTION_CUTOFF:
            scored[name] = max(score, scored.get(name, 0.0))
    for candidate in gazetteer.suggest(text, limit=limit):
        score = candidate.score * 100
        if score >= _SUGGESTION_CUTOFF:
            scored[candidate.commune.nom] = max(score, scored.get(candidate.commune.nom, 0.0))
    ranked = sorted(scored.items(), key=lambda item: (-item[1], item[0]))
    return tuple(name for name, _ in ranked[:limit])


# -- zones, keys and labels


def _zone_of(parts: Sequence[_Part], gazetteer: Gazetteer) -> Zone:
    unique = sorted(set(parts), key=lambda p: (_KINDS.index(p.kind), p.code))
    if any(p.kind == DEPARTEMENT for p in unique):
        # The whole département holds every other part.
        unique = [_Part(DEPARTEMENT, gazetteer.departement)]
    communes: set[str] = set()
    labels: list[str] = []
    keys: list[str] = []
    for part in unique:
        if part.kind == COMMUNES:
            continue
        keys.append(f"{part.kind}:{part.code}")
        labels.append(_label(part, gazetteer))
        communes.update(_communes_of(part, gazetteer))
    listed = [p.code for p in unique if p.kind == COMMUNES]
    if listed:
        keys.append(f"{COMMUNES}:" + "+".join(listed))
        names = [c.nom for code in listed if (c := gazetteer.by_insee(code)) is not None]
        labels.append(", ".join(names))
        communes.update(listed)
    arrondissements = {
        c.arrondissement_code
        for code in communes
        if (c := gazetteer.by_insee(code)) is not None and c.arrondissement_code
    }
    return Zone(
        key="+".join(keys),
        label=" ; ".join(labels),
        communes=tuple(sorted(communes)),
        arrondissements=tuple(sorted(arrondissements)),
    )


def _communes_of(part: _Part, gazetteer: Gazetteer) -> tuple[str, ...]:
    if part.kind == DEPARTEMENT:
        return tuple(c.code_insee for c in gazetteer.communes)
    if part.kind == ARRONDISSEMENT:
        return tuple(c.code_insee for c in gazetteer.communes if c.arrondissement_code == part.code)
    if part.kind == EPCI:
        epci = gazetteer.epci(part.code)
        return epci.communes if epci else ()
    return (part.code,)


def _label(part: _Part, gazetteer: Gazetteer) -> str:
    if part.kind == DEPARTEMENT:
        return f"{gazetteer.departement_nom} (département)"
    if part.kind == ARRONDISSEMENT:
        names = {a.code: a.nom for a in gazetteer.arrondissements}
        return _arrondissement_label(names.get(part.code, part.code))
    if part.kind == EPCI:
        epci = gazetteer.epci(part.code)
        return epci.nom if epci else part.code
    commune = gazetteer.by_insee(part.code)
    return commune.nom if commune else part.code


def _arrondissement_label(name: str) -> str:
    elided = fold_key(name)[:1] in tuple("aeiouyh")
    return f"Arrondissement d'{name}" if elided else f"Arrondissement de {name}"


def _parse_key(key: str, gazetteer: Gazetteer) -> list[_Part]:
    """The parts of a canonical key; [] when any token is not valid for this gazetteer."""
    parts: list[_Part] = []
    kind = ""
    for token in str(key).split("+"):
        if ":" in token:
            kind, _, code = token.partition(":")
        else:
            code = token
        if kind not in _KINDS or not code:
            return []
        valid = (
            (kind == DEPARTEMENT and code == gazetteer.departement)
            or (kind == ARRONDISSEMENT and code in {a.code for a in gazetteer.arrondissements})
            or (kind == EPCI and gazetteer.epci(code) is not None)
            or (kind == COMMUNES and gazetteer.by_insee(code) is not None)
        )
        if not valid:
            return []
        parts.append(_Part(kind, code))
    return parts


# -- geometry


def zone_geometry(key: str, gazetteer: Gazetteer) -> dict[str, Any] | None:
    """GeoJSON geometry (Polygon or MultiPolygon, valid) of a zone key; None when the key is
    unknown. Cached per process and gazetteer."""
    if not key:
        return None
    return _geometry(str(key), gazetteer)


@functools.lru_cache(maxsize=256)
def _geometry(key: str, gazetteer: Gazetteer) -> dict[str, Any] | None:
    import shapely
    from shapely.geometry import shape

    parts = _parse_key(key, gazetteer)
    if not parts:
        return None
    pieces: list[dict[str, Any] | None] = []
    epci_shapes = _feature_shapes(gazetteer, "epci", "siren")
    arrondissement_shapes = _feature_shapes(gazetteer, "arrondissements", "code")
    commune_shapes = _feature_shapes(gazetteer, "communes", "code_insee")
    for part in parts:
        if part.kind == DEPARTEMENT:
            pieces.extend(arrondissement_shapes.values())
        elif part.kind == ARRONDISSEMENT:
            pieces.append(arrondissement_shapes.get(part.code))
        elif part.kind == EPCI:
            pieces.append(epci_shapes.get(part.code))
        else:
            commune = gazetteer.by_insee(part.code)
            pieces.append(commune_shapes.get(commune.code_insee) if commune else None)
    geometries = [shape(p) for p in pieces if p]
    if not geometries:
        return None
    # Neighbouring areas share their borders (one simplified coverage), so the union merges
    # them instead of drawing overlapping pieces; make_valid guards against touching rings.
    union = shapely.make_valid(shapely.union_all(geometries))
    return _polygons_geojson(union)


def _feature_shapes(gazetteer: Gazetteer, which: str, prop: str) -> dict[str, dict[str, Any]]:
    collection = {
        "epci": gazetteer.epci_outlines,
        "arrondissements": gazetteer.arrondissement_outlines,
        "communes": gazetteer.commune_outlines,
    }[which]()
    return {str(f["properties"][prop]): f["geometry"] for f in collection.get("features", [])}


def _polygons_geojson(geometry: Any) -> dict[str, Any] | None:
    import shapely
    from shapely.geometry import MultiPolygon, Polygon, mapping

    polygons = [p for p in shapely.get_parts(geometry) if isinstance(p, Polygon) and not p.is_empty]
    if not polygons:
        return None
    shaped = polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)
    result: dict[str, Any] = dict(mapping(shaped))
    result["coordinates"] = _lists(result["coordinates"])
    return result


def _lists(value: Any) -> Any:
    """Nested tuples as lists, coordinates rounded as the gazetteer files are (5 decimals)."""
    if isinstance(value, tuple | list):
        if value and isinstance(value[0], float | int):
            return [round(float(v), 5) for v in value]
        return [_lists(v) for v in value]
    return value
