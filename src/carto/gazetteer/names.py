"""Comparison keys of place names: exact and loose keys, similarity, word prefixes, homonyms.

Folding (case, accents, « œ ») comes from carto.text; this module adds what is particular to
commune names: articles, linking words, « St »/« Ste », « s/ » for « sur ».
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Levenshtein

from carto.errors import GazetteerError
from carto.text import fold, words

# Lowest similarity at which a misspelt name may be taken for a commune (geocoding uses it too).
MIN_TYPO_SIMILARITY = 0.9

_DEPARTEMENT_RE = re.compile(r"^(?:\d{2}|2[AB]|97\d)$")
_LEADING_ARTICLES = frozenset({"le", "la", "les", "l"})
# Words dropped by the loose key: articles and the linking words of compound names, which
# people often omit or swap ("lez"/"les", "sur"/"s/").
_LINK_WORDS = frozenset(
    {"le", "la", "les", "l", "de", "du", "des", "d", "en", "sur", "sous", "lez", "au", "aux", "et"}
)
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
# "s/" is the usual spreadsheet abbreviation of "sur" ("Boulogne s/ Mer"), matched on the
# folded text ("S/", fullwidth "ｓ／") before the split into words drops the slash.
_SUR = re.compile(r"\bs/")


def normalize_name(text: str) -> str:
    """Comparison key of a place name: no case, accents, punctuation or leading article."""
    keys = _name_words(text)
    while len(keys) > 1 and keys[0] in _LEADING_ARTICLES:
        keys = keys[1:]
    return " ".join(keys)


def loose_name(text: str) -> str:
    """Looser key than normalize_name: articles and linking words dropped everywhere."""
    keys = [w for w in _name_words(text) if w not in _LINK_WORDS]
    return " ".join(keys) if keys else normalize_name(text)


def _name_words(text: str) -> list[str]:
    # words() folds again, a no-op on folded text: the word split rule stays in carto.text.
    return [_ABBREVIATIONS.get(w, w) for w in words(_SUR.sub(" sur ", fold(text)))]


def similarity(a: str, b: str) -> float:
    """Similarity of two normalised names in [0, 1], forgiving swapped neighbour letters."""
    if not a or not b:
        return 0.0
    indel = fuzz.ratio(a, b) / 100.0
    # A swap costs 2 in Levenshtein and 1 in OSA; count it as half an edit.
    osa = OSA.distance(a, b)
    swaps = Levenshtein.distance(a, b) - osa
    swap_aware = 1.0 - (osa - 0.5 * swaps) / max(len(a), len(b))
    return max(indel, swap_aware)


def word_prefix_coverage(query: Sequence[str], name: Sequence[str]) -> float:
    """Share of the longer form covered by the shorter, when one is a word prefix of the other.

    The query may be a prefix of the name ("touquet" / "touquet paris plage") or the name a
    prefix of the query followed by a linking word ("berck" / "berck sur mer"); else 0.
    Both are the words of normalised names.
    """
    if not query or not name or len(query) == len(name):
        return 0.0
    short, long = (query, name) if len(query) < len(name) else (name, query)
    if list(long[: len(short)]) != list(short):
        return 0.0
    if long is query and (long[len(short)] not in _LINK_WORDS or len(long) - len(short) > 3):
        return 0.0
    return len(" ".join(short)) / len(" ".join(long))


def normalize_departement(departement: str) -> str:
    """Canonical département code ("62", "2A", "974"); raises GazetteerError otherwise."""
    code = str(departement).strip().upper()
    if len(code) == 1 and code.isdigit():
        code = "0" + code
    if not _DEPARTEMENT_RE.match(code):
        raise GazetteerError(
            f"Code de département « {departement} » invalide : attendu par exemple 62, 2A ou 974."
        )
    return code


def names_elsewhere(
    own: Iterable[Iterable[str]], others: Iterable[tuple[str, str]]
) -> dict[str, set[str]]:
    """Keys that the non-exact rules would read as one of our communes although they name (or
    start the name of) a commune of another département: normalised key -> those départements.

    own holds, for each commune of the département, its current and former names; others the
    (name, département) pairs of the communes elsewhere. Lookups refuse to guess on the keys.
    """
    own_keys: set[str] = set()
    # Word prefixes of our names -> the communes they start (a commune's current and former
    # names may share one: "Bruay" starts Bruay-la-Buissière and Bruay-en-Artois).
    prefix_owners: dict[str, set[int]] = {}
    for commune, names in enumerate(own):
        keys = {normalize_name(n) for n in names}
        own_keys |= keys
        for key in keys:
            key_words = key.split()
            for i in range(1, len(key_words)):
                prefix_owners.setdefault(" ".join(key_words[:i]), set()).add(commune)
    own_loose = {loose_name(k) for k in own_keys}
    unique_prefixes = {p for p, owners in prefix_owners.items() if len(owners) == 1}

    external: dict[str, set[str]] = {}
    for name, departement in others:
        external.setdefault(normalize_name(name), set()).add(departement)
    external.pop("", None)

    blocked: dict[str, set[str]] = {}
    for key, deps in external.items():
        if key in own_keys:
            continue  # an exact name of the département wins over homonyms elsewhere
        key_words = key.split()
        for i in range(1, len(key_words) + 1):
            prefix = " ".join(key_words[:i])
            if prefix in unique_prefixes and prefix not in own_keys:
                blocked.setdefault(prefix, set()).update(deps)
        starts_with_own = any(
            " ".join(key_words[:i]) in own_keys and key_words[i] in _LINK_WORDS
            for i in range(1, len(key_words))
        )
        if starts_with_own or loose_name(key) in own_loose:
            blocked.setdefault(key, set()).update(deps)

    # Names close enough to one of ours to be taken for a typo ("Angers" / "Angres").
    names = sorted(k for k in external if k not in own_keys)
    ours = sorted(own_keys)
    matrix = process.cdist(names, ours, scorer=fuzz.ratio, score_cutoff=75)
    for i, j in zip(*matrix.nonzero(), strict=True):
        if similarity(names[i], ours[j]) >= MIN_TYPO_SIMILARITY:
            blocked.setdefault(names[i], set()).update(external[names[i]])
    return blocked
