"""Turning untrusted initiative text into safe display pieces (no streamlit here)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote, urlsplit

from carto.models import CATEGORY_BY_SLUG, SCOPE_LABELS
from carto.text import cell_text
from carto.timeline import parse_day, period_text, statut_label

SAFE_SCHEMES = ("http", "https", "mailto", "tel")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])")
_EMAIL = re.compile(r"^[^@\s<>()\[\]\\,;:\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def md_escape(text: object) -> str:
    """Escape Markdown so user text is shown literally by st.markdown (HTML is off anyway)."""
    return _MD_SPECIAL.sub(r"\\\1", cell_text(text))


def safe_href(url: str) -> str | None:
    """A link target we are willing to render, or None (javascript:, data:, junk...)."""
    url = (url or "").strip()
    if not url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES:
        return None
    if parts.scheme.lower() in ("http", "https") and (not parts.netloc or "@" in parts.netloc):
        return None  # "https://www.prefecture.gouv.fr@evil.example/" leads to evil.example
    # Parentheses and angle brackets would end a Markdown link early.
    return quote(url, safe=":/?#@!$&'*+,;=%~")


def tel_href(phone: str) -> str | None:
    digits = re.sub(r"[^\d+]", "", phone or "")
    if len(digits.lstrip("+")) < 4:
        return None
    return f"tel:{digits}"


def mail_href(email: str) -> str | None:
    email = (email or "").strip()
    return f"mailto:{email}" if _EMAIL.match(email) else None


def text_or_empty(value: object) -> str:
    """A cell as stripped text, "" when missing (see carto.text.cell_text)."""
    return cell_text(value).strip()


@dataclass(frozen=True)
class DetailLine:
    label: str
    text: str
    href: str | None = None


def detail_lines(row: dict[str, object], *, today: date | None = None) -> list[DetailLine]:
    """The detail panel of one initiative, in reading order, with safe links only.

    With `today`, its state on that day too (« Terminée », « En cours », carto.timeline).
    """
    category = CATEGORY_BY_SLUG.get(text_or_empty(row.get("categorie")))
    scope = text_or_empty(row.get("portee")) or "commune"
    lines = [
        DetailLine(
            "Catégorie", category.label if category else text_or_empty(row.get("categorie"))
        ),
    ]
    area = text_or_empty(row.get("zone_label"))
    zone = text_or_empty(row.get("zone"))
    if text_or_empty(row.get("zone_key")) and area:
        # An area initiative: its commune only places the marker.
        lines.append(DetailLine("Zone", area))
    else:
        lines.append(DetailLine("Commune", text_or_empty(row.get("commune"))))
        lines.append(DetailLine("Arrondissement", text_or_empty(row.get("arrondissement"))))
        if zone:
            # A zone the gazetteer did not recognise, shown as written.
            lines.append(DetailLine("Zone", zone))
        elif scope != "commune":
            lines.append(DetailLine("Portée", SCOPE_LABELS.get(scope, scope)))
    for label, key in (("Adresse", "adresse"),):
        if text_or_empty(row.get(key)):
            lines.append(DetailLine(label, text_or_empty(row.get(key))))
    site = text_or_empty(row.get("site_web"))
    if site:
        lines.append(DetailLine("Site web", site, safe_href(site)))
    email = text_or_empty(row.get("email"))
    if email:
        lines.append(DetailLine("Courriel", email, mail_href(email)))
    phone = text_or_empty(row.get("telephone"))
    if phone:
        lines.append(DetailLine("Téléphone", phone, tel_href(phone)))
    lines.append(DetailLine("Période", period_text(row)))
    if today is not None:
        lines.append(DetailLine("Statut", statut_label(row, today)))
    checked = parse_day(row.get("verifie_le"))
    if checked:
        lines.append(DetailLine("Vérifiée le", f"{checked:%d/%m/%Y}"))
    source = text_or_empty(row.get("source"))
    published = text_or_empty(row.get("date_publication"))
    if source or published:
        lines.append(DetailLine("Source", " — ".join(p for p in (source, published) if p)))
    return [line for line in lines if line.text]


def detail_markdown(line: DetailLine) -> str:
    text = md_escape(line.text)
    if line.href:
        return f"**{md_escape(line.label)}** : [{text}]({line.href})"
    return f"**{md_escape(line.label)}** : {text}"
