"""Editor accounts: scrypt password hashes from secrets, and throttling of failed sign-ins."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from carto.errors import ConfigError

# scrypt parameters: n=2**15 costs ~32 MiB and ~50-100 ms per check on this class of machine,
# which is fine for a handful of editors and slows down guessing.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_MAXMEM = 64 * 2**20


@dataclass(frozen=True)
class Editor:
    username: str
    name: str
    password_hash: str


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """`scrypt$n$r$p$salt$hash` (base64), the format stored in secrets.toml."""
    if not password:
        raise ConfigError("Le mot de passe ne peut pas être vide.")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; False for any malformed hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def editors_from_secrets(section: Mapping[str, object] | None) -> dict[str, Editor]:
    """Parse the `[editors.<username>]` tables of secrets.toml."""
    editors: dict[str, Editor] = {}
    for username, entry in (section or {}).items():
        if not isinstance(entry, Mapping) or not entry.get("password_hash"):
            raise ConfigError(
                f"secrets.toml : l'éditeur « {username} » n'a pas de « password_hash » "
                "(générez-le avec `carto hash-password`)."
            )
        editors[str(username)] = Editor(
            username=str(username),
            name=str(entry.get("name") or username),
            password_hash=str(entry["password_hash"]),
        )
    return editors


class Throttle:
    """Refuse sign-in attempts after too many failures in a sliding window (per key)."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[float]:
        now = self._clock()
        stamps = self._failures.setdefault(key, deque())
        while stamps and now - stamps[0] > self.window:
            stamps.popleft()
        return stamps

    def retry_after(self, key: str) -> float:
        """Seconds to wait before `key` may try again (0 when allowed)."""
        with self._lock:
            stamps = self._recent(key)
            if len(stamps) < self.max_failures:
                return 0.0
            return max(0.0, self.window - (self._clock() - stamps[0]))

    def record_failure(self, key: str) -> None:
        with self._lock:
            self._recent(key).append(self._clock())

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


def authenticate(
    editors: Mapping[str, Editor], username: str, password: str, *, throttle: Throttle
) -> tuple[Editor | None, str]:
    """Check a sign-in; returns (editor, "") or (None, French reason)."""
    key = username.strip().casefold()
    wait = throttle.retry_after(key)
    if wait > 0:
        return None, f"Trop d'essais infructueux : réessayez dans {int(wait) + 1} s."
    editor = editors.get(username.strip())
    # Verify against a dummy hash for unknown users, so timing does not reveal who exists.
    stored = editor.password_hash if editor else _DUMMY_HASH
    if verify_password(password, stored) and editor is not None:
        throttle.reset(key)
        return editor, ""
    throttle.record_failure(key)
    return None, "Identifiant ou mot de passe incorrect."


_DUMMY_HASH = hash_password("carto-solidaire-dummy", n=2**14)
