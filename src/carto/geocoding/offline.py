"""Offline geocoding: a commune and a point for a row from the gazetteer of one département.

Names, former names, INSEE or postal codes and explicit coordinates are read against the
gazetteer only: no network, deterministic.
"""

from __future__ import annotations

import re
from dataclasses import replace

from carto.errors import GazetteerError
from carto.gazetteer import MIN_TYPO_SIMILARITY, Gazetteer, normalize_name, similarity
from carto.gazetteer.france import FranceNames, load_france_names
from carto.geocoding.types import (
    OUTSIDE_DEPARTEMENT,
    SPELLING_CORRECTED,
    GeocodeResult,
    join_notes,
)
from carto.models import Candidate, Commune, GeocodeStatus, GeoPoint
from carto.text import INSEE_RE, cell_text, parse_number

# A best fuzzy candidate is taken only with this score and this lead over the runner-up.
MIN_FUZZY_SCORE = MIN_TYPO_SIMILARITY
MIN_FUZZY_MARGIN = 0.05
# With a code that already narrows the choice, a name this close confirms a candidate.
MIN_CODE_NAME_SCORE = 0.8
# A declared commune is kept for explicit coordinates this close to its (simplified) outline.
DECLARED_COMMUNE_TOLERANCE_KM = 1.0

_WORD = re.compile(r"\w+")
_CEDEX = re.compile(r"\bcedex(?:\s*\d{1,2})?\b", re.IGNORECASE)


def place_text(value: object) -> str | None:
    """A place cell (commune, code, address) as single-spaced text, None when empty."""
    return " ".join(cell_text(value).split()) or None


def _failed(
    message: str, *, column: str = "commune", candidates: tuple[Candidate, ...] = ()
) -> GeocodeResult:
    return GeocodeResult(None, None, "failed", 0.0, candidates, message, column)


def _resolved(
    commune: Commune,
    status: GeocodeStatus,
    score: float,
    *,
    candidates: tuple[Candidate, ...] = (),
    message: str = "",
    column: str = "commune",
) -> GeocodeResult:
    return GeocodeResult(commune, commune.point, status, score, candidates, message, column)


def _describe(candidates: tuple[Candidate, ...]) -> str:
    shown = [c for c in candidates if c.score >= 0.6][:3]
    return ", ".join(f"{c.commune.nom} ({round(c.score * 100)} %)" for c in shown)


class OfflineGeocoder:
    """Geocoder backed by the gazetteer only: no network, deterministic."""

    uses_address = False

    def __init__(
        self,
        gazetteer: Gazetteer,
        *,
        min_score: float = MIN_FUZZY_SCORE,
        min_margin: float = MIN_FUZZY_MARGIN,
        france: FranceNames | None = None,
    ) -> None:
        self.gazetteer = gazetteer
        self.min_score = min_score
        self.min_margin = min_margin
        self._france = france
        self._memo: dict[tuple[str | None, str | None], GeocodeResult] = {}

    @property
    def departement(self) -> str:
        return self.gazetteer.departement

    @property
    def france(self) -> FranceNames | None:
        """The national name list, read on first need; None when it is not installed."""
        if self._france is None:
            try:
                self._france = load_france_names()
            except GazetteerError:
                return None
        return self._france

    def geocode(
        self,
        *,
        commune: str | None = None,
        code_insee: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        adresse: str | None = None,
        outside_confirmed: bool = False,
    ) -> GeocodeResult:
        """Resolve a row: explicit coordinates win, then codes, then the commune name.

        A point outside the département is an error unless `outside_confirmed`.
        """
        name, code = place_text(commune), place_text(code_insee)
        lat, lon = parse_number(latitude), parse_number(longitude)
        if lat is not None and lon is not None:
            return self._from_point(lat, lon, name, code, outside_confirmed=outside_confirmed)
        result = self._memoised(name, code)
        if (lat is None) != (lon is None):
            present, absent = (
                ("latitude", "longitude") if lon is None else ("longitude", "latitude")
            )
            note = f"{absent} manquante : {present} ignorée, point placé à la commune"
            result = result.with_note(note)
        return result

    def _memoised(self, name: str | None, code: str | None) -> GeocodeResult:
        key = (name, code)
        if key not in self._memo:
            self._memo[key] = self._from_text(name, code)
        return self._memo[key]

    # -- coordinates

    def _from_point(
        self,
        lat: float,
        lon: float,
        name: str | None,
        code: str | None,
        *,
        outside_confirmed: bool = False,
    ) -> GeocodeResult:
        gaz = self.gazetteer
        where = f"({lat:g}, {lon:g})"
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return _failed(
                f"coordonnées {where} impossibles : latitude entre -90 et 90, "
                "longitude entre -180 et 180",
                column="latitude",
            )
        if not gaz.contains(lat, lon):
            if gaz.contains(lon, lat):
                return _failed(
                    f"coordonnées {where} hors du département {gaz.departement} : "
                    "latitude et longitude semblent inversées",
                    column="latitude",
                )
            return self._outside(lat, lon, name, code, confirmed=outside_confirmed)
        containing = gaz.nearest_commune(lat, lon)
        declared = self._memoised(name, code) if (name or code) else None
        point = GeoPoint(lat, lon)
        if declared is None:
            return GeocodeResult(containing, point, "manual", 1.0)
        if declared.commune is None:
            given = name or code or ""
            return GeocodeResult(
                containing,
                point,
                "manual",
                1.0,
                message=(
                    f"commune « {given} » non reconnue ; les coordonnées {where} sont à "
                    f"{containing.nom} : {containing.nom} retenue"
                ),
                column="commune" if name else "code_insee",
            )
        if declared.commune == containing or (
            gaz.distance_to_commune_km(declared.commune, lat, lon) <= DECLARED_COMMUNE_TOLERANCE_KM
        ):
            # An exact reading's notes (former commune, code ignored) still matter.
            note = declared.message if declared.status == "exact" else ""
            return GeocodeResult(declared.commune, point, "manual", 1.0, message=note)
        return GeocodeResult(
            containing,
            point,
            "manual",
            1.0,
            message=(
                f"les coordonnées {where} sont à {containing.nom}, pas à "
                f"{declared.commune.nom} : {containing.nom} retenue"
            ),
            column="latitude",
        )

    def _outside(
        self, lat: float, lon: float, name: str | None, code: str | None, *, confirmed: bool
    ) -> GeocodeResult:
        """A point outside the département: an error, or kept when the editor confirmed it."""
        gaz = self.gazetteer
        where = f"({lat:g}, {lon:g})"
        nearest = gaz.nearest_commune(lat, lon)
        distance = gaz.distance_to_departement_km(lat, lon)
        far = f"{distance:.1f}".replace(".", ",") if distance < 10 else f"{distance:.0f}"
        outside = (
            f"coordonnées {where} hors du département {gaz.departement}, à {far} km de sa "
            f"limite (commune la plus proche : {nearest.nom})"
        )
        if not confirmed:
            return GeocodeResult(
                None, None, "failed", 0.0, (), outside, "latitude", OUTSIDE_DEPARTEMENT
            )
        declared = self._memoised(name, code) if (name or code) else None
        if declared is not None and declared.commune is not None:
            commune, note = declared.commune, f"{declared.commune.nom} retenue"
        elif declared is not None:
            given = name or code or ""
            commune, note = nearest, f"commune « {given} » non reconnue : {nearest.nom} retenue"
        else:
            commune, note = nearest, f"{nearest.nom} retenue"
        return GeocodeResult(
            commune,
            GeoPoint(lat, lon),
            "manual",
            1.0,
            message=f"{outside} ; point gardé sur confirmation, {note}",
            column="latitude",
        )

    # -- codes and names

    def _from_text(self, name: str | None, code: str | None) -> GeocodeResult:
        dep = self.gazetteer.departement
        notes: list[str] = []
        codes: list[tuple[str, str]] = []  # (column, code)
        if code is not None:
            if INSEE_RE.match(code):
                codes.append(("code_insee", code.upper()))
            elif name is None:
                return _failed(
                    f"code INSEE « {code} » invalide : 5 caractères attendus (ex. 62041)",
                    column="code_insee",
                )
            else:
                notes.append(f"code INSEE « {code} » invalide, ignoré")
        if name is not None:
            for found in _codes_in(name):
                codes.append(("commune", found.upper()))
            name = _strip_codes(name, dep) or None

        by_code = self._communes_for_codes(codes)
        unknown = [c for column, c in codes if not self._communes_for_codes([(column, c)])]
        if unknown and by_code:
            notes.append(f"code « {unknown[0]} » inconnu dans le département {dep}, ignoré")
        if by_code:
            if name is None:
                by_code = self._communes_for_codes(codes, preferred_only=True)
            return self._with_codes(by_code, name, codes, notes)
        if codes and name is None:
            column, value = codes[0]
            return _failed(f"code « {value} » introuvable dans le département {dep}", column=column)
        if unknown:
            notes.append(f"code « {unknown[0]} » introuvable dans le département {dep}, ignoré")
        if name is None:
            return _failed("commune manquante : indiquez la commune ou son code INSEE")
        result = self._from_name(name)
        return result.with_note(*notes)

    def _communes_for_codes(
        self, codes: list[tuple[str, str]], *, preferred_only: bool = False
    ) -> tuple[Commune, ...]:
        """Communes the codes designate: read as INSEE codes first in the code_insee column,
        as postal codes first elsewhere; `preferred_only` drops the other reading when the
        preferred one finds something."""
        found: list[Commune] = []
        for column, value in codes:
            by_insee = self.gazetteer.by_insee(value)
            insee = (by_insee,) if by_insee is not None else ()
            postal = self.gazetteer.by_postcode(value)
            first, second = (insee, postal) if column == "code_insee" else (postal, insee)
            readings = first if (preferred_only and first) else first + second
            for commune in readings:
                if commune not in found:
                    found.append(commune)
        return tuple(found)

    def _with_codes(
        self,
        communes: tuple[Commune, ...],
        name: str | None,
        codes: list[tuple[str, str]],
        notes: list[str],
    ) -> GeocodeResult:
        column, value = codes[0]
        all_candidates = tuple(Candidate(c, round(1 / len(communes), 3)) for c in communes)
        if name is None:
            if len(communes) == 1:
                former = [v for _, v in codes if self._is_former_code(v, communes[0])]
                if former:
                    notes.insert(0, _merged_note(f"code {former[0]}", communes[0]))
                return _resolved(
                    communes[0], "exact", 1.0, message=join_notes(*notes), column=column
                )
            names = ", ".join(c.nom for c in communes)
            return _resolved(
                communes[0],
                "fuzzy",
                round(1 / len(communes), 3),
                candidates=all_candidates,
                message=join_notes(
                    f"le code « {value} » couvre plusieurs communes ({names}) : "
                    f"{communes[0].nom} retenue, précisez la commune",
                    *notes,
                ),
                column=column,
            )
        match = self.gazetteer.lookup(name)
        agreed = [c for c in match.communes if c in communes]
        if agreed:
            status: GeocodeStatus = "exact" if match.score == 1.0 else "fuzzy"
            if match.kind == "ancien_nom":
                notes.insert(0, self._former_name_note(name, agreed[0]))
            elif match.kind == "exact":
                notes.insert(0, _spelling_note(name, agreed[0]))
            return _resolved(agreed[0], status, match.score, message=join_notes(*notes))
        key = normalize_name(name)
        scored = sorted(
            (Candidate(c, round(self._name_similarity(key, c), 3)) for c in communes),
            key=lambda cand: -cand.score,
        )
        if scored[0].score >= MIN_CODE_NAME_SCORE:
            return _resolved(
                scored[0].commune,
                "fuzzy",
                scored[0].score,
                candidates=tuple(scored),
                message=join_notes(f"« {name} » lu comme « {scored[0].commune.nom} »", *notes),
            )
        by_name = match.communes or tuple(
            c.commune for c in self.gazetteer.suggest(name, limit=3) if c.score >= MIN_FUZZY_SCORE
        )
        names = ", ".join(c.nom for c in communes)
        message = f"le code « {value} » ({names}) ne correspond pas à la commune « {name} »"
        if by_name:
            message += f", qui serait {by_name[0].nom} ({by_name[0].code_insee})"
        candidates = tuple(scored) + tuple(Candidate(c, match.score or 0.9) for c in by_name)
        return _failed(message, column=column, candidates=candidates)

    def _is_former_code(self, code: str, commune: Commune) -> bool:
        gaz = self.gazetteer
        return gaz.is_former_code(code) and gaz.by_insee(code) == commune

    def _former_name_note(self, name: str, commune: Commune) -> str:
        key = normalize_name(name)
        official = next(
            (
                n
                for n in self.gazetteer.anciens_noms(commune.code_insee)
                if normalize_name(n) == key
            ),
            name,
        )
        return _merged_note(official, commune)

    def _name_similarity(self, key: str, commune: Commune) -> float:
        names = (commune.nom, *self.gazetteer.anciens_noms(commune.code_insee))
        return max(similarity(key, normalize_name(n)) for n in names)

    def _from_name(self, name: str) -> GeocodeResult:
        dep = self.gazetteer.departement
        match = self.gazetteer.lookup(name)
        if len(match.communes) > 1:
            names = ", ".join(f"{c.nom} ({c.code_insee})" for c in match.communes)
            return _failed(
                f"plusieurs communes s'appellent « {name} » dans le département {dep} "
                f"({names}) : précisez le code INSEE",
                candidates=tuple(Candidate(c, match.score) for c in match.communes),
            )
        if match.communes:
            commune = match.communes[0]
            if match.kind == "ancien_nom":
                return _resolved(
                    commune, "exact", 1.0, message=self._former_name_note(name, commune)
                )
            if match.score == 1.0:
                note = _spelling_note(name, commune)
                code = SPELLING_CORRECTED if note else ""
                return replace(_resolved(commune, "exact", 1.0, message=note), code=code)
            return _resolved(
                commune,
                "fuzzy",
                match.score,
                candidates=(Candidate(commune, match.score),),
                message=f"« {name} » lu comme « {commune.nom} »",
            )
        candidates = self.gazetteer.suggest(name, limit=5)
        elsewhere = self.gazetteer.elsewhere(name)
        if candidates and not elsewhere:
            best = candidates[0]
            runner_up = candidates[1].score if len(candidates) > 1 else 0.0
            if best.score >= self.min_score and best.score - runner_up >= self.min_margin:
                return _resolved(
                    best.commune,
                    "fuzzy",
                    best.score,
                    candidates=candidates,
                    message=f"« {name} » lu comme « {best.commune.nom} » "
                    f"({round(best.score * 100)} %)",
                )
        message = f"commune « {name} » introuvable dans le département {dep}"
        france = self.france
        there = france.exact(name, exclude=dep) if france is not None else None
        if there is not None:
            message += f" : {there.sentence(name)}"
        elif elsewhere:
            others = ", ".join(_departement_label(france, code) for code in elsewhere[:5])
            others += ", …" if len(elsewhere) > 5 else ""
            message += f" (nom d'une commune d'un autre département : {others})"
        described = _describe(candidates)
        if described:
            message += f" ; vouliez-vous dire : {described} ?"
        if there is None and france is not None:
            close = france.similar(name, exclude=dep)
            if close:
                message += " ; hors du département : " + " ; ".join(c.sentence() for c in close)
        return _failed(message, candidates=candidates)


def _spelling_note(name: str, commune: Commune) -> str:
    """« Bethune → Béthune (corrigé) » when the name was written otherwise than officially
    (accents, hyphens, « St »), not for a mere change of case."""
    written = " ".join(name.split())
    if written.casefold() == commune.nom.casefold():
        return ""
    return f"{written} → {commune.nom} (corrigé)"


def _departement_label(france: FranceNames | None, code: str) -> str:
    found = france.departement(code) if france is not None else None
    return found.label if found is not None else code


def _merged_note(former: str, commune: Commune) -> str:
    return f"{former} → {commune.nom} (commune fusionnée)"


def _codes_in(name: str) -> list[str]:
    """The words of a name that are postal or INSEE codes ("62000 Arras" -> ["62000"])."""
    return [word for word in _WORD.findall(name) if INSEE_RE.match(word)]


def _strip_codes(name: str, departement: str) -> str:
    """The name without postal/INSEE codes, "CEDEX" or a trailing "(62)" département tag."""
    text = _WORD.sub(lambda word: " " if INSEE_RE.match(word[0]) else word[0], name)
    text = _CEDEX.sub(" ", text)
    text = re.sub(rf"[(\[]\s*{re.escape(departement)}\s*[)\]]", " ", text, flags=re.IGNORECASE)
    text = re.sub(rf"[\s,;-]+{re.escape(departement)}\s*$", " ", text, flags=re.IGNORECASE)
    return " ".join(text.replace(",", " ").split()).strip(" -;")
