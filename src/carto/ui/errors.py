"""What a visitor sees when something fails: a French message, never a traceback.

The details and the traceback go to the server log (logger "carto"), where the operator can act;
`client.showErrorDetails = "none"` in .streamlit/config.toml hides Streamlit's own details.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from carto.display import md_escape
from carto.errors import CartoError

logger = logging.getLogger("carto")
# How often a lasting server-side problem (e.g. an unwritable folder) is logged again.
RELOG_INTERVAL_S = 600.0
UNEXPECTED = (
    "Une erreur inattendue est survenue ; elle a été enregistrée. "
    "Rechargez la page pour revenir à la vue par défaut."
)


# An absolute server path (/srv/carto/data/communes.csv, C:\\carto\\x.csv), not a URL's path.
_SERVER_PATH = re.compile(
    r"(?<![\w:/\\.])(?:[A-Za-z]:)?[/\\](?:[^\s«»()\[\]'\"`/\\]+[/\\])+([^\s«»()\[\]'\"`/\\]*)"
)


def visitor_text(exc: CartoError) -> str:
    """An error as a page shows it: its public text, else its message without server paths.

    A path is cut to its last part (« communes.csv »): the full path is for the server log."""
    return exc.public or without_paths(str(exc))


def shown_error(exc: CartoError) -> str:
    """visitor_text(exc), the full message going to the server log when it hides something."""
    text = visitor_text(exc)
    if text != str(exc):
        logger.warning("Erreur montrée sans ses détails : %s", exc)
    return text


def without_paths(text: str) -> str:
    """A notice for a page, each absolute server path cut to its last part."""
    return _SERVER_PATH.sub(lambda m: m.group(1) or "…", text)


@contextmanager
def stop_on_error(what: str) -> Iterator[None]:
    """Show an error in French and stop the page, instead of a trace; log it with its trace.

    Configuration and data errors (CartoError) carry their own French message. Anything else
    (a value crafted by a visitor that Streamlit cannot decode, a bug) gets a generic message:
    the details and the traceback go to the server log only.
    """
    try:
        yield
    except CartoError as exc:
        logger.exception("%s : %s", what, exc)  # the full message, paths included
        st.error(f"{what} : {md_escape(visitor_text(exc))}")
        st.stop()
    except Exception:
        logger.exception("%s : erreur inattendue", what)
        st.error(
            f"{what} : une erreur inattendue s'est produite ; elle a été enregistrée. "
            "Rechargez la page pour revenir à la vue par défaut."
        )
        st.stop()


def on_script_error(exc: Exception) -> bool:
    """st.App's handler of what no page caught: a French message, the traceback in the log.

    It also covers what fails inside Streamlit before any page code runs, such as a widget
    value crafted by a visitor that Streamlit cannot decode. True: Streamlit shows nothing more.
    """
    logger.error("Erreur inattendue d'une page : %s", type(exc).__name__, exc_info=exc)
    st.error(UNEXPECTED)
    return True


_last_logged: dict[str, float] = {}


def log_lasting_problem(key: str, message: str, *args: object) -> None:
    """Log the current exception with its traceback, at most every RELOG_INTERVAL_S per key."""
    now = time.monotonic()
    if now - _last_logged.get(key, -RELOG_INTERVAL_S) >= RELOG_INTERVAL_S:
        _last_logged[key] = now
        logger.exception(message, *args)


def log_lasting_notice(key: str, message: str, *args: object) -> None:
    """Log a warning (no exception), at most every RELOG_INTERVAL_S per key."""
    now = time.monotonic()
    if now - _last_logged.get(key, -RELOG_INTERVAL_S) >= RELOG_INTERVAL_S:
        _last_logged[key] = now
        logger.warning(message, *args)
