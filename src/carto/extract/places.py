"""Places named in a sentence of a communiqué: communes, sectors, intercommunalités, département.

Communes go through the gazetteer (exact and former names, loose keys, « St », word prefixes
such as « le Touquet », then close spellings); areas through carto.zones. A name is taken as a
place only where French puts one (« à Lillers », « de Guînes », « (Wimereux) », « entre Beuvry
et Auchel »), so that « Avion » or « Marck » in an organisation's name is not read as a town.
Places outside the département (« Lille ») are never returned: they are listed apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from carto.errors import ZoneError
from carto.gazetteer import MIN_TYPO_SIMILARITY, Gazetteer
from carto.models import Commune
from carto.text import fold, fold_key
from carto.zones import Zone, resolve_zone

# Traditional sector names (« pays ») that no official area is called by, and the area each
# stands for; docs/schema.md explains the choices (Calaisis → arrondissement de Calais...).
# Keys are folded; values: the `zone` text, and the commune that represents the sector.
SECTORS_62: dict[str, tuple[str, str]] = {
    "calaisis": ("arrondissement de Calais", "Calais"),
    "artois ternois": ("arrondissement d'Arras", "Arras"),
    "arrageois": ("arrondissement d'Arras", "Arras"),
    "ternois": ("CC du Ternois", "Saint-Pol-sur-Ternoise"),
    "montreuillois": ("arrondissement de Montreuil", "Montreuil-sur-Mer"),
    "boulonnais": ("arrondissement de Boulogne-sur-Mer", "Boulogne-sur-Mer"),
    "audomarois": ("arrondissement de Saint-Omer", "Saint-Omer"),
    "bethunois": ("arrondissement de Béthune", "Béthune"),
    "lensois": ("arrondissement de Lens", "Lens"),
}
SECTORS: dict[str, dict[str, tuple[str, str]]] = {"62": SECTORS_62}

# Words after which French names a place.
_CUES = frozenset(
    {
        "a",
        "au",
        "aux",
        "de",
        "du",
        "des",
        "d",
        "sur",
        "en",
        "entre",
        "et",
        "pres",
        "vers",
        "ville",
        "commune",
        "mairie",
        "secteur",
        "basee",
        "base",
        "situe",
        "situee",
        "dont",
    }
)
_LINKS = frozenset({"de", "du", "des", "d", "la", "le", "les", "l", "en", "sur", "sous", "lez"})
_LINKS_ALL = _LINKS | {"aux", "au", "et"}
# A capitalised run, with the linking words of compound names (« Loos-en Gohelle »,
# « Communauté Urbaine d'Arras », « Saint-Laurent-Blangy »).
_UPPER = "A-ZÀ-ÖØ-Þ"
_NAME_WORD = rf"[{_UPPER}][\w’'.-]*"
_SPAN = re.compile(
    rf"{_NAME_WORD}(?:(?:[\s-]+(?:(?:de|du|des|la|le|les|en|sur|sous|lez|aux|au)[\s-]+|"
    rf"d[’']|l[’'])?){_NAME_WORD})*"
)
_TOKEN = re.compile(r"[\w’'-]+|\(")
_EPCI_LEAD = re.compile(
    r"\b(communaut[ée]s?\s+(?:urbaine|d[’']agglom[ée]ration|de\s+communes)|"
    r"agglom[ée]rations?|intercommunalit[ée]s?)\s+(?:de\s+la\s+|de\s+l[’']|du\s+|des\s+|de\s+|d[’'])?",
    re.IGNORECASE,
)
_PAYS = re.compile(r"^(pays\s+(?:de\s+la\s+|de\s+l[’']|du\s+|des\s+|de\s+|d[’'])?)", re.IGNORECASE)
_ENTRE = re.compile(rf"\bentre\s+({_NAME_WORD}(?:[\s-]+{_NAME_WORD})*)\s+et\s+", re.IGNORECASE)
_SECTEUR = re.compile(r"\bsecteur\s+(?:de\s+|d[’']|du\s+)$", re.IGNORECASE)
_PRES = re.compile(r"\b(?:pr[èe]s|proche|non\s+loin)\s+(?:de\s+|d[’']|du\s+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Place:
    """One place named in a text.

    kind: "commune", "sector" (a sector name or « secteur de X »), "between" (« entre X et Y »),
    "epci", "departement". `zone` is the `zone` text to write (empty for a commune), `commune`
    the commune that represents it, `exact` whether the name was found as written (up to case,
    accents and hyphens), `near` whether it only locates something else (« près d'Arras »).
    """

    kind: str
    written: str
    start: int
    commune: Commune
    zone: str = ""
    exact: bool = True
    near: bool = False


@dataclass(frozen=True)
class Found:
    places: tuple[Place, ...]
    elsewhere: tuple[str, ...]  # names of communes of other départements (« Lille »)


def find_places(text: str, gazetteer: Gazetteer) -> Found:
    """The places of the département a sentence names, in order of appearance."""
    places: list[Place] = []
    taken: list[tuple[int, int]] = []
    elsewhere: list[str] = []

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    def add(place: Place, end: int) -> None:
        places.append(place)
        taken.append((place.start, end))

    folded = fold(text)
    # 1. Intercommunalités named with their type (« Communauté Urbaine d'Arras »,
    #    « l'agglomération du pays de Saint-Omer »).
    for match in _EPCI_LEAD.finditer(text):
        rest = text[match.end() :]
        pays = _PAYS.match(rest)
        offset = match.end() + (pays.end() if pays else 0)
        span = _SPAN.match(text, offset)
        if span is None:
            continue
        for end in _word_ends(text, offset, span.end()):
            written = text[match.start() : end]
            zone = _zone(written, gazetteer)
            if zone is not None and zone.key.startswith("epci:") and free(match.start(), end):
                add(
                    Place(
                        "epci", written, match.start(), _main_commune(zone, gazetteer), zone.label
                    ),
                    end,
                )
                break

    # 2. Sector names, in any case (« dans le calaisis »), as whole words.
    for key, (zone_text, commune_name) in SECTORS.get(gazetteer.departement, {}).items():
        pattern = r"\b" + r"[\s-]+".join(key.split()) + r"\b"
        for match in re.finditer(pattern, folded):
            if not free(match.start(), match.end()):
                continue
            commune = _one(gazetteer, commune_name)
            if commune is not None and _zone(zone_text, gazetteer) is not None:
                add(
                    Place(
                        "sector",
                        text[match.start() : match.end()],
                        match.start(),
                        commune,
                        zone_text,
                    ),
                    match.end(),
                )

    # 3. Capitalised runs: communes where a cue word precedes them, or intercommunalités by a
    #    distinctive part of their name (« Béthune-Bruay », « Lens-Liévin »).
    for span in _SPAN.finditer(text):
        words = list(re.finditer(r"\S+", span.group()))
        for i in range(len(words)):
            start = span.start() + words[i].start()
            if not free(start, start + 1):
                continue
            before = text[:start]
            cue = _cue(before)
            for j in range(len(words), i, -1):
                end = span.start() + words[j - 1].end()
                written = text[start:end].strip(" ,.;:’'-")
                end = start + len(written)
                if not written or not free(start, end) or fold_key(written) in _LINKS_ALL:
                    continue
                found = _commune(written, gazetteer, typo=cue)
                if found is not None and cue:
                    commune, exact = found
                    kind = "sector" if _SECTEUR.search(before) else "commune"
                    area = _epci_of(commune, gazetteer) if kind == "sector" else ""
                    kind = "sector" if area else "commune"
                    add(
                        Place(
                            kind,
                            written,
                            start,
                            commune,
                            area,
                            exact,
                            near=bool(_PRES.search(before)),
                        ),
                        end,
                    )
                    break
                if found is None and gazetteer.elsewhere(written) and cue:
                    elsewhere.append(written)
                    taken.append((start, end))
                    break
                if found is None and "-" in written and (cue or j - i >= 1):
                    zone = _zone(written, gazetteer)
                    if zone is not None and zone.key.startswith("epci:"):
                        add(
                            Place(
                                "epci", written, start, _main_commune(zone, gazetteer), zone.label
                            ),
                            end,
                        )
                        break
                if found is None and cue and j == i + 1 and _elsewhere_name(written, gazetteer):
                    elsewhere.append(written)
                    taken.append((start, end))
                    break

    # 4. The département by its name (« dans tout le Pas-de-Calais »).
    name = fold_key(gazetteer.departement_nom)
    for match in re.finditer(r"\b" + r"[\s-]+".join(name.split()) + r"\b", folded):
        if free(match.start(), match.end()):
            chef_lieu = _chef_lieu(gazetteer)
            if chef_lieu is not None:
                add(
                    Place(
                        "departement",
                        text[match.start() : match.end()],
                        match.start(),
                        chef_lieu,
                        gazetteer.departement_nom,
                    ),
                    match.end(),
                )

    places.sort(key=lambda p: p.start)
    return Found(_between(text, places, gazetteer), tuple(dict.fromkeys(elsewhere)))


def _between(text: str, places: list[Place], gazetteer: Gazetteer) -> tuple[Place, ...]:
    """« entre Beuvry et Auchel »: the two communes become one sector, the intercommunalité
    holding both when there is one, else the two communes."""
    out = list(places)
    for match in _ENTRE.finditer(text):
        first = next((p for p in out if p.start == match.start(1) and p.kind == "commune"), None)
        second = next((p for p in out if p.start == match.end() and p.kind == "commune"), None)
        if first is None or second is None:
            continue
        epci_a = _epci_of(first.commune, gazetteer)
        if epci_a and epci_a == _epci_of(second.commune, gazetteer):
            zone = epci_a
        else:
            zone = f"{first.commune.nom} ; {second.commune.nom}"
        merged = Place(
            "between",
            text[match.start() : match.end()] + second.written,
            first.start,
            first.commune,
            zone,
            first.exact and second.exact,
        )
        out = [p for p in out if p not in (first, second)]
        out.append(merged)
        # The other commune stays known, for picking the one an address names.
        out.append(
            Place("between-other", second.written, second.start, second.commune, zone, second.exact)
        )
    out.sort(key=lambda p: p.start)
    return tuple(out)


def _word_ends(text: str, start: int, end: int) -> list[int]:
    """Ends of the word prefixes of text[start:end], longest first."""
    ends = [start + m.end() for m in re.finditer(r"\S+", text[start:end])]
    return sorted(ends, reverse=True)


def _cue(before: str) -> bool:
    tail = before.rstrip()
    if tail.endswith("("):
        return True
    words = fold_key(tail[-40:]).split()
    return bool(words) and words[-1] in _CUES


def _commune(text: str, gazetteer: Gazetteer, *, typo: bool) -> tuple[Commune, bool] | None:
    """The commune a name designates: (commune, exact), or None."""
    key = fold_key(text)
    if len(key) < 3 or key in _LINKS_ALL:
        return None
    found = gazetteer.find(text)
    if len(found) == 1:
        return found[0], True
    match = gazetteer.lookup(text)
    if len(match.communes) == 1:
        return match.communes[0], match.kind in ("exact", "ancien_nom", "loose")
    suggestions = (
        gazetteer.suggest(text, limit=2)
        if typo and len(key) >= 5 and not gazetteer.elsewhere(text)
        else ()
    )
    if (
        suggestions
        and suggestions[0].score >= MIN_TYPO_SIMILARITY
        and (len(suggestions) == 1 or suggestions[1].score < suggestions[0].score - 0.05)
    ):
        return suggestions[0].commune, False
    return None


def _elsewhere_name(text: str, gazetteer: Gazetteer) -> bool:
    return bool(gazetteer.elsewhere(text))


def _one(gazetteer: Gazetteer, name: str) -> Commune | None:
    found = gazetteer.find(name)
    return found[0] if len(found) == 1 else None


def _zone(text: str, gazetteer: Gazetteer) -> Zone | None:
    try:
        return resolve_zone(text, gazetteer)
    except ZoneError:
        return None


def _main_commune(zone: Zone, gazetteer: Gazetteer) -> Commune:
    communes = [c for code in zone.communes if (c := gazetteer.by_insee(code)) is not None]
    return max(communes, key=lambda c: c.population)


def _epci_of(commune: Commune, gazetteer: Gazetteer) -> str:
    for epci in gazetteer.epcis:
        if commune.code_insee in epci.communes:
            return epci.nom
    return ""


def _chef_lieu(gazetteer: Gazetteer) -> Commune | None:
    codes: Sequence[str] = [a.chef_lieu for a in gazetteer.arrondissements]
    prefecture = {"62": "62041"}.get(gazetteer.departement)
    code = prefecture or (codes[0] if codes else "")
    return gazetteer.by_insee(code) if code else None
