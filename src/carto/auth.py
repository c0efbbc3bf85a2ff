"""Editor accounts: password hashes (argon2id, older scrypt) from secrets.toml or the database
(`carto.publishing.accounts`), and throttling of failed sign-ins."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from carto.errors import ConfigError

# New hashes: argon2id with 32 MiB (the memory of the former scrypt n=2**15, r=8) and 2 passes, on
# one lane: about 100 ms per check on a small server, without letting a burst of sign-in attempts
# take every core. Stored hashes carry their own parameters, so these can be raised later.
ARGON2_TIME_COST, ARGON2_MEMORY_KIB, ARGON2_PARALLELISM = 2, 2**15, 1
_HASHER = argon2.PasswordHasher(
    time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
)

# scrypt (`scrypt$n$r$p$salt$hash`) was the format before argon2; such hashes still verify.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_MAXMEM = 64 * 2**20

MAX_KEY_CHARS = 256
"""Usernames are cut to this length for the throttle, so a huge name costs no memory."""

UNRECOGNISED_HASH = "n'est pas un hachage reconnu"


@dataclass(frozen=True)
class Editor:
    username: str
    name: str
    password_hash: str
    # Where the account is declared: "secrets" (secrets.toml), "database" (`carto editors`) or
    # "oidc" (single sign-on).
    source: str = "secrets"


@dataclass(frozen=True)
class HashParams:
    """What a check of a stored hash costs: its scheme, cost settings and salt/digest sizes."""

    scheme: str  # "scrypt", "argon2id", "argon2i" or "argon2d"
    settings: tuple[int, ...]  # scrypt: n, r, p; argon2: version, time, memory (KiB), lanes
    salt_len: int
    digest_len: int


def hash_password(
    password: str, *, n: int | None = None, r: int = SCRYPT_R, p: int = SCRYPT_P
) -> str:
    """An argon2id hash (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), stored in secrets.toml.

    With `n`, an scrypt hash `scrypt$n$r$p$salt$hash` instead (older deployments, quick tests).
    """
    if not password:
        raise ConfigError("Le mot de passe ne peut pas être vide.")
    if n is None:
        return _HASHER.hash(password)
    return _scrypt_hash(password, n=n, r=r, p=p, salt_len=16, dklen=64)


def _scrypt_hash(password: str, *, n: int, r: int, p: int, salt_len: int, dklen: int) -> str:
    salt = secrets.token_bytes(salt_len)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=dklen
    )
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def _b64decode(text: str) -> bytes:
    """Strict base64, with or without padding (argon2 omits it); ValueError otherwise."""
    if not text:
        raise ValueError("empty")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from exc


def hash_params(stored: str) -> HashParams:
    """The parameters of a stored hash; ValueError when it is not a usable hash."""
    if stored.startswith("scrypt$"):
        fields = stored.split("$")
        if len(fields) != 6:
            raise ValueError(f"{len(fields)} champs séparés par « $ » au lieu de 6")
        try:
            n, r, p = (int(x) for x in fields[1:4])
        except ValueError:
            raise ValueError("n, r et p doivent être des nombres entiers") from None
        if n < 2 or n & (n - 1) or r < 1 or p < 1 or 128 * r * (n + p + 2) > _MAXMEM:
            raise ValueError("paramètres scrypt hors limites")
        try:
            salt, digest = _b64decode(fields[4]), _b64decode(fields[5])
        except ValueError:
            raise ValueError("sel ou empreinte mal encodés en base64") from None
        if len(digest) < 16:
            raise ValueError("empreinte trop courte")
        return HashParams("scrypt", (n, r, p), len(salt), len(digest))
    if stored.startswith("$argon2"):
        try:
            found = argon2.extract_parameters(stored)
        except InvalidHashError:
            raise ValueError("format argon2 incomplet ou altéré") from None
        fields = stored.split("$")
        try:
            salt, digest = _b64decode(fields[-2]), _b64decode(fields[-1])
        except ValueError:
            raise ValueError("sel ou empreinte mal encodés en base64") from None
        settings = (found.version, found.time_cost, found.memory_cost, found.parallelism)
        if min(settings) < 1 or len(salt) < 8 or len(digest) < 16:
            raise ValueError("paramètres argon2 hors limites")
        return HashParams(fields[1], settings, len(salt), len(digest))
    raise ValueError("ni argon2 ni scrypt")


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; False for any malformed hash."""
    if stored.startswith("$argon2"):
        try:
            return _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError, ValueError, TypeError):
            return False
    try:
        params = hash_params(stored)
    except ValueError:
        return False
    n, r, p = params.settings
    fields = stored.split("$")
    expected = _b64decode(fields[5])
    actual = hashlib.scrypt(
        password.encode(),
        salt=_b64decode(fields[4]),
        n=n,
        r=r,
        p=p,
        maxmem=_MAXMEM,
        dklen=len(expected),
    )
    return hmac.compare_digest(actual, expected)


@functools.lru_cache(maxsize=16)
def dummy_hash(params: HashParams) -> str:
    """A hash of a random password with exactly these parameters (made once per process)."""
    password = secrets.token_urlsafe(16)
    if params.scheme == "scrypt":
        n, r, p = params.settings
        return _scrypt_hash(
            password, n=n, r=r, p=p, salt_len=params.salt_len, dklen=params.digest_len
        )
    version, time_cost, memory_cost, parallelism = params.settings
    hasher = argon2.PasswordHasher.from_parameters(
        argon2.Parameters(
            type=argon2.Type[params.scheme.removeprefix("argon2").upper()],
            version=version,
            salt_len=params.salt_len,
            hash_len=params.digest_len,
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
        )
    )
    return hasher.hash(password)


def unknown_user_hash(editors: Mapping[str, Editor]) -> str:
    """What an unknown username is checked against, so that it costs what a real editor costs.

    Its parameters are those of the editors' hash that is slowest to check here (measured once
    per process for each set of parameters): an unknown name never answers faster than an
    account. On a tie, the most common parameters; with no editor, those of a new hash.
    """
    counts: dict[HashParams, int] = {}
    for editor in editors.values():
        try:
            params = hash_params(editor.password_hash)
        except ValueError:
            continue
        counts[params] = counts.get(params, 0) + 1
    if not counts:
        return dummy_hash(hash_params(_default_hash()))
    return dummy_hash(max(counts, key=lambda params: (check_cost(params), counts[params])))


@functools.lru_cache(maxsize=16)
def check_cost(params: HashParams) -> float:
    """Seconds one check of a hash with these parameters takes in this process (measured once).

    CPU time of this thread, so that the load of other processes does not change the choice;
    wall-clock time for argon2 with several lanes, which libargon2 computes in other threads.
    """
    stored = dummy_hash(params)
    several_lanes = params.scheme.startswith("argon2") and params.settings[3] > 1
    clock = time.perf_counter if several_lanes else time.thread_time
    start = clock()
    verify_password(secrets.token_urlsafe(16), stored)
    return clock() - start


@functools.cache
def _default_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def login_key(username: str) -> str:
    """How a login name is looked up, for every kind of account: trimmed and case-folded."""
    return username.strip().casefold()


def editors_from_secrets(section: object) -> dict[str, Editor]:
    """The `[editors.<username>]` tables of secrets.toml, keyed by `login_key` like the database
    accounts; ConfigError in French if unusable (or two names differ only by case)."""
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise ConfigError(
            "secrets.toml : la clé « editors » doit être une table de comptes "
            "([editors.<identifiant>] avec name et password_hash), pas une valeur "
            f"de type {_toml_type(section)} (modèle : .streamlit/secrets.example.toml)."
        )
    editors: dict[str, Editor] = {}
    for username, entry in section.items():
        where = f"secrets.toml : [editors.{username}]"
        key = login_key(str(username))
        if key in editors:
            raise ConfigError(
                f"secrets.toml : [editors.{editors[key].username}] et [editors.{username}] sont "
                "le même identifiant (majuscules et minuscules sont équivalentes) : gardez-en un."
            )
        if not isinstance(entry, Mapping):
            raise ConfigError(
                f"{where} doit être une table avec name et password_hash "
                "(générez le hachage avec carto hash-password)."
            )
        stored = entry.get("password_hash")
        if not stored:
            raise ConfigError(
                f"{where} n'a pas de password_hash (générez-le avec carto hash-password)."
            )
        try:
            if not isinstance(stored, str):
                raise ValueError(f"valeur de type {_toml_type(stored)}")
            hash_params(stored)
        except ValueError as exc:
            raise ConfigError(
                f"{where} password_hash {UNRECOGNISED_HASH} ({exc} ; "
                "générez-le avec carto hash-password)."
            ) from None
        editors[key] = Editor(
            username=str(username),
            name=str(entry.get("name") or username),
            password_hash=stored,
        )
    unknown_user_hash(editors)  # made now, so the first unknown username is not slower
    return editors


def _toml_type(value: object) -> str:
    names = {str: "texte", bool: "booléen", int: "nombre", float: "nombre", list: "liste"}
    return next((name for kind, name in names.items() if isinstance(value, kind)), "inconnu")


class Throttle:
    """Refuse sign-in attempts after too many failures in a sliding window (per key).

    Keys are kept in order of their newest failure, so the idle ones (newest failure older than
    the window) are dropped from the front on every call, and at most `max_entries` are kept.
    """

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.max_entries = max_entries
        self._clock = clock
        # key -> times of its recent failures (at most max_failures), oldest key first
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._failures)

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._failures))

    def _purge(self, now: float) -> None:
        """Drop idle keys (oldest first), then the least recent ones beyond `max_entries`."""
        failures = self._failures
        while failures:
            key, stamps = next(iter(failures.items()))
            if stamps and now - stamps[-1] <= self.window:
                break
            del failures[key]
        while len(failures) > self.max_entries:
            failures.popitem(last=False)

    def _recent(self, key: str, now: float) -> list[float] | None:
        stamps = self._failures.get(key)
        if stamps and now - stamps[0] > self.window:
            stamps[:] = [stamp for stamp in stamps if now - stamp <= self.window]
        return stamps

    def retry_after(self, key: str) -> float:
        """Seconds to wait before `key` may try again (0 when allowed)."""
        with self._lock:
            now = self._clock()
            self._purge(now)
            stamps = self._recent(key, now)
            if stamps is None or len(stamps) < self.max_failures:
                return 0.0
            return max(0.0, self.window - (now - stamps[0]))

    def record_failure(self, key: str) -> None:
        with self._lock:
            now = self._clock()
            stamps = self._recent(key, now)
            if stamps is None:
                stamps = self._failures[key] = []
            stamps.append(now)
            del stamps[: -self.max_failures]
            self._failures.move_to_end(key)
            self._purge(now)

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


# Failed sign-ins a process accepts per client address, and from all of them, per minute. One
# address (an attacker, or a whole office behind one NAT) gets 30 a minute, 1/20 of the ceiling:
# it cannot reach the ceiling that would refuse every editor, and 600 checks of ~100 ms are about
# one core, so a flood of failures cannot take every core either.
PER_ADDRESS_FAILURES, OVERALL_FAILURES, LIMIT_WINDOW_SECONDS = 30, 600, 60.0
_EVERYONE = "*"


@dataclass(frozen=True)
class ClientLimits:
    """Limits on failed sign-ins per client address and for the whole process (all addresses),
    beside the per-account `Throttle` of `authenticate`."""

    per_address: Throttle
    overall: Throttle

    @classmethod
    def default(cls, *, clock: Callable[[], float] = time.monotonic) -> ClientLimits:
        window = LIMIT_WINDOW_SECONDS
        return cls(
            per_address=Throttle(
                max_failures=PER_ADDRESS_FAILURES, window_seconds=window, clock=clock
            ),
            overall=Throttle(max_failures=OVERALL_FAILURES, window_seconds=window, clock=clock),
        )


def authenticate(
    editors: Mapping[str, Editor],
    username: str,
    password: str,
    *,
    throttle: Throttle,
    limits: ClientLimits | None = None,
    address: str = "",
) -> tuple[Editor | None, str]:
    """Check a sign-in; returns (editor, "") or (None, French reason).

    `editors` is keyed by `login_key` (secrets.toml and database accounts alike). With
    `limits`, failures are also counted for `address` (the client's, "" when unknown) and for
    the process; past a limit, the attempt is refused before any password is checked.
    """
    key = login_key(username)[:MAX_KEY_CHARS]
    # An unknown address ("") is not one client: counting it as one would let a single visitor
    # refuse everyone who shares it; the per-process ceiling still applies.
    where = address[:MAX_KEY_CHARS]
    if limits is not None and where:
        wait = limits.per_address.retry_after(where)
        if wait > 0:
            return None, (
                "Trop d'essais de connexion depuis votre adresse réseau : réessayez dans "
                f"{int(wait) + 1} s."
            )
    if limits is not None:
        wait = limits.overall.retry_after(_EVERYONE)
        if wait > 0:
            return None, (
                "Trop d'essais de connexion sur ce serveur en ce moment : réessayez dans "
                f"{int(wait) + 1} s."
            )
    wait = throttle.retry_after(key)
    if wait > 0:
        return None, f"Trop d'essais infructueux : réessayez dans {int(wait) + 1} s."
    editor = editors.get(login_key(username))
    # An unknown username is checked against a hash of the same kind and cost as the editors'
    # own, so the time taken does not tell who exists.
    stored = editor.password_hash if editor else unknown_user_hash(editors)
    if verify_password(password, stored) and editor is not None:
        throttle.reset(key)
        return editor, ""
    throttle.record_failure(key)
    if limits is not None:
        if where:
            limits.per_address.record_failure(where)
        limits.overall.record_failure(_EVERYONE)
    return None, "Identifiant ou mot de passe incorrect."
