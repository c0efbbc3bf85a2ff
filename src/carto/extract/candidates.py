"""A communiqué's blocks split into candidate initiatives.

- the dateline (« Arras, le 6 avril 2020 ») gives the publication date and is never a place;
- theme headings (« Solidaires avec les personnes isolées ») give the theme of what follows;
  without one, the theme is guessed from the words of the text and marked uncertain;
- each sentence naming a place of the département is a candidate; a sentence naming two
  initiatives (« TERREOS à Lillers, ou ROQUETTE à Lestrem ») is cut at its connector;
- sites, e-mails and phones in the paragraph, or in the « Pour plus d'informations » lines
  just after it, are the candidate's contacts;
- text before the first heading (the préfecture's introduction), sentences of the préfet or
  the préfecture, press contacts, and places outside the département give nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from carto.extract.documents import Block, Document
from carto.extract.places import Found, Place, find_places
from carto.gazetteer import Gazetteer
from carto.intake.validation import format_phone, parse_category, parse_date
from carto.models import CATEGORIES
from carto.text import fold, fold_key, web_address

# Columns of the initiatives schema a candidate fills, in the schema's order.
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "nom",
    "categorie",
    "description",
    "commune",
    "code_insee",
    "portee",
    "zone",
    "site_web",
    "email",
    "telephone",
    "date_publication",
    "source",
)
MAX_NAME = 120
MAX_DESCRIPTION = 1500

_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_DATELINE = re.compile(
    r"^\s*(?P<place>[A-ZÀ-Ý][\w’'\- ]{1,40}),\s*le\s+"
    r"(?P<date>\d{1,2}(?:er)?\s+[^\W\d_]+\.?\s+\d{4})\s*[-–—:.]?\s*",
)
_ANY_DATE = re.compile(r"\b(\d{1,2}(?:er)?\s+[^\W\d_]+\s+\d{4})\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[«\"A-ZÀ-Ý])")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()«»,;]+[^\s<>()«»,;.:!?]", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])(?:mailto:)?([\w.+-]+@[\w-]+(?:\.[\w-]+)+)")
_PHONE = re.compile(r"(?<!\d)(?:\+33\s?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)")
# Paragraphs that only give contacts for the initiative above them.
_CONTACT_LEAD = re.compile(
    r"^(pour (plus d|en savoir plus|tout renseignement)|contacts?\b|renseignements?\b|"
    r"informations?\b|site\b|t[ée]l|courriel|e-?mail|accueil t[ée]l[ée]phonique|"
    r"inscriptions?\b|https?://|www\.|mailto:)",
    re.IGNORECASE,
)
# The préfecture's own words, address and press office: never initiatives, never contacts.
_PREFECTURE = re.compile(r"\b(pr[ée]fet|pr[ée]fecture|sous-pr[ée]fe|cabinet du|presse)", re.I)
# Where one sentence names two initiatives, strongest connector first.
_CONNECTORS = (" tout comme ", " ainsi que ", "; ", " ou encore ", ", ou ", " ou ")
# Sentence openers and common words that are not organisations' names.
_STOP_WORDS = (
    "Au Aux Ainsi Après Avec Beaucoup Ce Ces Cet Cette Chaque Contact Dans De Des Depuis Du "
    "Elle Elles En Enfin Entre Grâce Il Ils La Le Les L Leur Lors Mais Même Par Parmi Pendant "
    "Plusieurs Pour Près Puis Sa Se Ses Si Son Sur Tous Tout Toutes Un Une À Afin ailleurs "
    "Ville Commune Secteur Mairie Covid Covid-19 Coronavirus Ehpad CHU Communauté Urbaine "
    "Agglomération Hauts-de-France France"
)
_STOP = frozenset(fold_key(w) for w in _STOP_WORDS.split())
_ORG_WORD = r"[A-ZÀ-Ý][\w’'&.-]*"
_ORG = re.compile(
    rf"{_ORG_WORD}(?:(?:\s+(?:de|du|des|de la|de l’|de l'|d’|d'|et|&|en|sur|la|le|les)\s*|\s+)"
    rf"{_ORG_WORD})*"
)
_ORG_CUE = re.compile(
    r"\b(association|société|entreprise|club|fablab|boulangerie|épicerie|collège|lycée|"
    r"centre social|station-service|groupe|groupes|atelier|jardinerie|enseigne|collectif|"
    r"restaurant|pharmacie|coopérative|fondation)\s+(?:solidaire\s+)?(?:du\s+|de\s+la\s+|des\s+)?$",
    re.IGNORECASE,
)
_ENUM = re.compile(rf"^(\s*,\s*|\s+et\s+|\s+ou\s+)({_ORG_WORD}(?:[\s-]+{_ORG_WORD})*)")

# Words of the texts of each theme, for a communiqué without headings (folded stems).
THEME_WORDS: dict[str, tuple[str, ...]] = {
    "protection": (
        "masque",
        "visiere",
        "gel hydro",
        "hydro-alcool",
        "hydroalcool",
        "blouse",
        "protection",
        "gestes barrieres",
        "desinfect",
        "gants",
        "imprimante",
    ),
    "soignants": (
        "soignant",
        "hopita",
        "hospitalier",
        "infirmi",
        "medecin",
        "personnel de sante",
        "personnels de sante",
        "chu",
        "clinique",
        "aide-soignant",
    ),
    "confines": (
        "confine",
        "livr",
        "domicile",
        "courses",
        "drive",
        "colis",
        "repas",
        "produits frais",
        "commande",
    ),
    "isoles": (
        "isole",
        "isolement",
        "fragile",
        "personnes agees",
        "solitude",
        "appel",
        "telephonique",
        "ecoute",
        "aines",
        "seniors",
    ),
    "routiers": (
        "routier",
        "transporteur",
        "chauffeur",
        "poids lourd",
        "camion",
        "aire de repos",
        "douche",
    ),
}


@dataclass
class Candidate:
    """One initiative found in a communiqué, with what an editor needs to judge it."""

    nom: str
    categorie: str
    description: str
    commune: str
    code_insee: str
    portee: str
    zone: str
    site_web: str
    email: str
    telephone: str
    date_publication: str
    source: str
    phrase: str  # the exact sentence of the communiqué it came from
    confiance: float  # 0..1
    theme_incertain: bool = False
    lieu_ecrit: str = ""  # the place as the communiqué writes it
    remarques: list[str] = field(default_factory=list)
    # The other commune of « entre X et Y »: (nom, code INSEE).
    alternatives: list[tuple[str, str]] = field(default_factory=list)

    def row(self) -> dict[str, str]:
        """The candidate as a row of the initiatives schema (what `carto import` reads)."""
        return {column: str(getattr(self, column)) for column in CANDIDATE_COLUMNS}


@dataclass(frozen=True)
class Extraction:
    """The candidates of one communiqué, and what was read of it."""

    title: str
    published: date | None
    source: str
    candidates: tuple[Candidate, ...]
    ignored_places: tuple[str, ...]  # places outside the département that were named


@dataclass
class _Paragraph:
    block: Block
    theme: str | None
    heading: str
    places: Found
    candidates: list[Candidate] = field(default_factory=list)


def extract_candidates(document: Document, gazetteer: Gazetteer) -> Extraction:
    """Split a read communiqué into candidate initiatives."""
    blocks = list(document.blocks)
    published, blocks = _dateline(blocks)
    title, blocks = _title(blocks)
    if published is None:
        published = _first_date(blocks)
    source = _source(title, published, gazetteer)
    has_headings = any(b.heading and _heading_theme(b.text) for b in blocks)
    theme: str | None = None
    heading = ""
    started = not has_headings
    candidates: list[Candidate] = []
    ignored: list[str] = []
    last: list[Candidate] = []
    for block in blocks:
        if block.heading:
            found_theme = _heading_theme(block.text)
            if found_theme or has_headings:
                theme, heading = found_theme, block.text
                started = started or found_theme is not None
            last = []
            continue
        if not started:
            continue
        text = block.text
        if _PREFECTURE.search(text) and not _contacts_only(text):
            last = []  # the préfet's closing words, the préfecture's address, press contacts
            continue
        if _contacts_only(text):
            for candidate in last:
                _add_contacts(candidate, text)
            continue
        paragraph = _Paragraph(block, theme, heading, find_places(text, gazetteer))
        for sentence in _sentences(text):
            for clause, found in _clauses(sentence, gazetteer):
                ignored.extend(found.elsewhere)
                found_one = _candidate(clause, sentence, found, paragraph, published, source)
                if found_one is not None:
                    paragraph.candidates.append(found_one)
        if paragraph.candidates:
            _describe(paragraph)
            for candidate in paragraph.candidates:
                _add_contacts(candidate, text)
            candidates.extend(paragraph.candidates)
            last = paragraph.candidates
        elif last and len(text) < 300 and (_URL.search(text) or _EMAIL.search(text)):
            for candidate in last:
                _add_contacts(candidate, text)
    for candidate in candidates:
        _settle_between(candidate)
    return Extraction(
        title=title,
        published=published,
        source=source,
        candidates=tuple(candidates),
        ignored_places=tuple(dict.fromkeys(ignored)),
    )


# -- the communiqué's own data


def _dateline(blocks: list[Block]) -> tuple[date | None, list[Block]]:
    for index, block in enumerate(blocks[:6]):
        match = _DATELINE.match(block.text)
        if match and not block.heading:
            when = _parse_date(match["date"])
            rest = block.text[match.end() :].strip()
            kept = blocks[:index] + ([Block(rest)] if rest else []) + blocks[index + 1 :]
            return when, kept
    return None, blocks


def _parse_date(text: str) -> date | None:
    return parse_date(re.sub(r"(\d)er\b", r"\1", " ".join(text.split())))


def _first_date(blocks: Sequence[Block]) -> date | None:
    for block in blocks[:8]:
        for match in _ANY_DATE.finditer(block.text):
            if (found := _parse_date(match.group(1))) is not None:
                return found
    return None


def _title(blocks: list[Block]) -> tuple[str, list[Block]]:
    """The communiqué's title: its first short line that is not a sentence."""
    for index, block in enumerate(blocks[:4]):
        text = block.text.strip()
        if 3 <= len(text) <= 160 and not text.endswith((".", ",")) and not _contacts_only(text):
            if _heading_theme(text):
                break
            return text, blocks[:index] + blocks[index + 1 :]
    return "", blocks


def _source(title: str, published: date | None, gazetteer: Gazetteer) -> str:
    issuer = f"de la préfecture du {gazetteer.departement_nom}"
    when = f" du {_french_date(published)}" if published else ""
    named = f" « {title} »" if title else ""
    return f"Communiqué {issuer}{named}{when}"[:500]


def _french_date(day: date) -> str:
    first = "1er" if day.day == 1 else str(day.day)
    return f"{first} {_MONTHS[day.month - 1]} {day.year}"


# -- themes


def _heading_theme(text: str) -> str | None:
    """The theme a heading names: its exact spelling first, then its words."""
    cleaned = text.strip(" -–—•:")
    slug = parse_category(cleaned)
    if slug:
        return slug
    if not fold_key(cleaned).startswith("solidaire"):
        # Headings of our communiqués all say « Solidaires avec… »; other titles may still
        # name a theme by its label (« Personnes isolées »).
        for category in CATEGORIES:
            if fold_key(category.label) in fold_key(cleaned):
                return category.slug
        return None
    return _text_theme(cleaned)[0]


def _text_theme(text: str) -> tuple[str | None, int]:
    """The theme whose words the text uses most, and how many it uses."""
    folded = fold(text)
    scores = {
        slug: sum(folded.count(word) for word in words) for slug, words in THEME_WORDS.items()
    }
    best = max(scores, key=lambda slug: scores[slug])
    return (best, scores[best]) if scores[best] else (None, 0)


# -- sentences, clauses, candidates


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def _clauses(sentence: str, gazetteer: Gazetteer) -> list[tuple[str, Found]]:
    """The parts of a sentence that each name their own place (usually the whole sentence)."""
    found = find_places(sentence, gazetteer)
    if not _located(found):
        return [(sentence, found)] if found.elsewhere else []
    for connector in _CONNECTORS:
        index = sentence.find(connector)
        while index > 0:
            left, right = sentence[:index], sentence[index + len(connector) :]
            found_left, found_right = (find_places(left, gazetteer), find_places(right, gazetteer))
            if _located(found_left) and _located(found_right):
                return _clauses(left, gazetteer) + _clauses(right, gazetteer)
            index = sentence.find(connector, index + 1)
    return [(sentence, found)]


def _located(found: Found) -> bool:
    return any(not p.near and p.kind != "departement" for p in found.places) or any(
        p.kind == "departement" for p in found.places
    )


def _candidate(
    clause: str,
    sentence: str,
    found: Found,
    paragraph: _Paragraph,
    published: date | None,
    source: str,
) -> Candidate | None:
    place = _main_place(found.places)
    if place is None:
        return None
    theme, uncertain = paragraph.theme, paragraph.theme is None
    if theme is None:
        theme, _score = _text_theme(sentence + " " + paragraph.block.text)
    confidence = 0.45
    confidence += 0.3 if not uncertain else (0.1 if theme else 0.0)
    confidence += 0.2 if place.exact else 0.05
    others = [
        p for p in found.places if p is not place and not p.near and p.kind != "between-other"
    ]
    if others:
        confidence -= 0.05
    name = _name(clause, found)
    remarks: list[str] = []
    if not name:
        remarks.append("nom à vérifier : aucun nom d’organisation dans la phrase")
        confidence -= 0.1
    if uncertain:
        remarks.append("thème déduit du texte (pas de titre de rubrique)")
    if not place.exact:
        remarks.append(f"lieu « {place.written} » lu comme {place.commune.nom}")
    if found.elsewhere:
        remarks.append("hors du département, ignoré : " + ", ".join(found.elsewhere))
    scope = {"commune": "commune", "departement": "departement"}.get(place.kind, "secteur")
    return Candidate(
        nom=name,
        categorie=theme or "",
        description="",
        commune=place.commune.nom,
        code_insee=place.commune.code_insee,
        portee=scope,
        zone=place.zone,
        site_web="",
        email="",
        telephone="",
        date_publication=published.isoformat() if published else "",
        source=source,
        phrase=sentence,
        confiance=round(max(0.05, min(1.0, confidence)), 2),
        theme_incertain=uncertain,
        lieu_ecrit=place.written,
        remarques=remarks,
        alternatives=[
            (p.commune.nom, p.commune.code_insee)
            for p in found.places
            if p.kind == "between-other" and place.kind == "between"
        ],
    )


def _main_place(places: Sequence[Place]) -> Place | None:
    """The place of the initiative: a sector when the sentence says « secteur », « dans le
    Calaisis » or « entre X et Y », else the first commune (not one only « près de » which),
    else intercommunalités (all of those named), else the département."""
    usable = [p for p in places if not p.near]
    for kinds in (("sector", "between"), ("commune",)):
        chosen = [p for p in usable if p.kind in kinds]
        if chosen:
            return chosen[0]
    epcis = [p for p in usable if p.kind == "epci"]
    if epcis:
        zone = " ; ".join(dict.fromkeys(p.zone for p in epcis))
        return replace(epcis[0], zone=zone, written=", ".join(p.written for p in epcis))
    departement = [p for p in usable if p.kind == "departement"]
    if departement:
        return departement[0]
    near = [p for p in places if p.near and p.kind == "commune"]
    return near[0] if near else None


def _name(text: str, found: Found) -> str:
    """The organisation the clause names: its first capitalised name that is not a place or a
    sentence opener, with the names listed after it (« Brioche Pasquier, Daunat »)."""
    place_spans = [(p.start, p.start + len(p.written)) for p in found.places]
    matches = list(_ORG.finditer(text))
    # A name right after « l'association », « la société », « le club »... comes first.
    matches.sort(key=lambda m: 0 if _ORG_CUE.search(text[: m.start()]) else 1)
    for match in matches:
        words = match.group().split()
        # Drop sentence openers and common words in front: « Sur », « L’entreprise ».
        start = match.start()
        while words and (fold_key(words[0]) in _STOP or fold_key(words[0]).split()[0] in _STOP):
            start += len(words[0]) + 1
            words = words[1:]
        if not words:
            continue
        name = " ".join(words).strip(" ,.;:")
        end = start + len(name)
        if any(a <= start and end <= b for a, b in place_spans) or any(
            a <= start < b for a, b in place_spans
        ):
            continue  # a place, or starts with one
        if len(fold_key(name)) < 3 or fold_key(name) in _STOP:
            continue
        rest = text[end:]
        listed = [name]
        while (more := _ENUM.match(rest)) is not None and len(listed) < 5:
            item = more.group(2).strip(" ,.;:")
            if fold_key(item) in _STOP:
                break
            listed.append(item)
            rest = rest[more.end() :]
        return ", ".join(listed)[:MAX_NAME]
    return ""


def _describe(paragraph: _Paragraph) -> None:
    """Description: the paragraph when it holds one initiative, else the candidate's sentence;
    a candidate without a name takes the paragraph's first organisation name."""
    text = paragraph.block.text
    alone = len(paragraph.candidates) == 1
    for candidate in paragraph.candidates:
        description = text if alone else candidate.phrase
        description = _URL.sub("", description)
        description = _EMAIL.sub("", description)
        description = re.sub(r"\s+([,.;:])", r"\1", " ".join(description.split()))
        candidate.description = description[:MAX_DESCRIPTION]
        if not candidate.nom and alone:
            candidate.nom = _name(text, paragraph.places)
            if candidate.nom:
                candidate.remarques = [
                    r for r in candidate.remarques if not r.startswith("nom à vérifier")
                ]
                candidate.confiance = round(min(1.0, candidate.confiance + 0.05), 2)
        if not candidate.nom:
            candidate.nom = _fallback_name(candidate)


_TOWN_HALL = re.compile(r"\b(mairies?|municipalit[ée]|commune de|ville de|ville d[’'])", re.I)
_PREPOSITION = frozenset({"sur", "dans", "a", "en", "pour", "par", "beaucoup", "depuis", "au"})


def _fallback_name(candidate: Candidate) -> str:
    """A name when the text gives no organisation's: « Mairie de Guînes » for a town hall,
    else the subject up to the place (« Les restaurateurs de St-Pol-sur-Ternoise »), else the
    first words of the sentence."""
    sentence = candidate.phrase
    if _TOWN_HALL.search(sentence) and candidate.portee == "commune":
        return f"Mairie de {candidate.commune}"[:MAX_NAME]
    at = sentence.find(candidate.lieu_ecrit) if candidate.lieu_ecrit else -1
    if at > 0:
        subject = sentence[: at + len(candidate.lieu_ecrit)]
        first = fold_key(subject).split()[:1]
        if len(subject.split()) <= 7 and first and first[0] not in _PREPOSITION:
            return subject[:MAX_NAME]
    words = sentence.split()
    name = " ".join(words[:6]).rstrip(",;:")
    return (name + ("…" if len(words) > 6 else ""))[:MAX_NAME]


def _contacts_only(text: str) -> bool:
    return bool(_CONTACT_LEAD.match(text.strip())) and len(text) < 300


def _add_contacts(candidate: Candidate, text: str) -> None:
    if _PREFECTURE.search(text):
        return
    if not candidate.site_web:
        for url in _URL.findall(text):
            address = web_address(url)
            if address.url:
                candidate.site_web = address.url
                break
    if not candidate.email:
        for match in _EMAIL.finditer(text):
            candidate.email = match.group(1)
            break
    if not candidate.telephone:
        for phone in _PHONE.findall(text):
            candidate.telephone = format_phone(phone) or phone
            break


def _settle_between(candidate: Candidate) -> None:
    """« entre Beuvry et Auchel »: the marker goes to the commune the initiative's own address
    names (lepetitpaniersolidaireauchel), else the first one."""
    contacts = fold_key(candidate.site_web + " " + candidate.email).replace(" ", "")
    for nom, code in candidate.alternatives:
        key = fold_key(nom).replace(" ", "")
        if key and key in contacts and fold_key(candidate.commune).replace(" ", "") not in contacts:
            candidate.commune, candidate.code_insee = nom, code


def rows(candidates: Iterable[Candidate]) -> list[dict[str, str]]:
    return [c.row() for c in candidates]
