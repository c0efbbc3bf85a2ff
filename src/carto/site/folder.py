"""The site folder is ours, or untouched: which folders a build may write into, and how.

A build writes only into an empty folder, a folder whose manifest (MANIFEST) is signed with the
store's site key, a folder left by an interrupted build of ours (its JOURNAL, written before any
other file), or the folder of an earlier release whose unsigned manifest lists exactly the files
it holds (accepted once, then signed). It deletes only files that a manifest or a journal of ours
lists, never follows a symbolic link (every path is opened from the locked folder's descriptor,
with O_NOFOLLOW), and takes its lock before looking at anything.

Order of a build: journal, new files, manifest, index.html, older files deleted, journal removed.
A visitor always gets a whole site; a build killed at any step is finished by the next one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import stat
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from carto.errors import CartoError, ConfigError, SiteWriteError

if TYPE_CHECKING:
    from carto.publishing.storage import Store

# Which files make the site now and before; signed. Not loaded by the page.
MANIFEST = ".carto-site.json"
# Written first by every build, removed last: what it may create and delete; signed.
JOURNAL = ".carto-site-journal.json"
INDEX = "index.html"
# The row of the store's signing_keys table that holds the site key.
KEY_NAME = "site_manifest"
FORMAT = 2
_NOFOLLOW = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
# The most a manifest or journal may weigh (a few KB in practice).
_MAX_CONTROL_BYTES = 8 * 1024 * 1024


class SiteFolderRefused(ConfigError):
    """The folder is not a site of this store, or holds a symbolic link: nothing was written."""


# --- the key ----------------------------------------------------------------------------------


def site_key(store: Store, *, create: bool = True) -> bytes | None:
    """The key that signs the site's manifest, kept in the store (made at the first build when
    `create`); None when there is none and it cannot be made (a read-only store)."""
    from sqlalchemy import inspect, select, text

    from carto.publishing.accounts import signing_keys_table
    from carto.publishing.storage import _DDL_LOCK_KEY

    def read(conn: Any) -> bytes | None:
        if not inspect(conn).has_table(signing_keys_table.name, schema=store._schema):
            return None
        query = select(signing_keys_table.c.secret).where(signing_keys_table.c.name == KEY_NAME)
        value = conn.execute(query).scalar()
        return None if value is None else bytes(value)

    with store._errors("Lecture de la clé du site public"), store._engine.connect() as conn:
        found = read(conn)
    if found is not None or not create or store.read_only:
        return found
    try:
        with store._errors("Création de la clé du site public"), store._writing(lock=False) as conn:
            if store.backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK_KEY})
            signing_keys_table.create(conn, checkfirst=True)
            found = read(conn)
            if found is None:
                found = secrets.token_bytes(32)
                conn.execute(
                    signing_keys_table.insert().values(
                        name=KEY_NAME, secret=found, created_at=datetime.now(UTC)
                    )
                )
    except CartoError:  # the store refuses writes, or another instance made it meanwhile
        with store._errors("Lecture de la clé du site public"), store._engine.connect() as conn:
            return read(conn)
    return found


def _signature(key: bytes, kind: str, body: Mapping[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, f"carto-site/{kind}\n{canonical}".encode(), hashlib.sha256).hexdigest()


def _signed(key: bytes | None, kind: str, body: dict[str, Any]) -> bytes:
    if key is not None:
        body = {**body, "signature": _signature(key, kind, body)}
    return (json.dumps(body, indent=1, ensure_ascii=False) + "\n").encode()


# --- reading the folder without following links -----------------------------------------------


def _valid_name(name: object) -> bool:
    if not isinstance(name, str) or not name or "\0" in name or "\\" in name:
        return False
    parts = PurePosixPath(name).parts
    return not name.startswith("/") and all(p not in ("", ".", "..") for p in parts)


@dataclass
class _Control:
    """A manifest or journal read from the folder."""

    name: str
    body: dict[str, Any] | None  # None: unreadable (e.g. truncated by a kill)
    signed: bool = False  # carries a signature, good or not
    trusted: bool = False  # signed with our key

    def names(self, *keys: str) -> set[str]:
        found: set[str] = set()
        for key in keys:
            found.update((self.body or {}).get(key) or [])
        return found


@dataclass
class _Listing:
    files: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=set)


class _Folder:
    """The locked site folder, reached only through its descriptor."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    def shown(self, name: str) -> str:
        return str(self.path / name)

    def refuse_link(self, name: str) -> SiteFolderRefused:
        return SiteFolderRefused(
            f"Le dossier du site « {self.path} » contient un lien symbolique, « "
            f"{self.shown(name)} » : la construction du site ne suit jamais un lien (elle "
            "écrirait ailleurs que dans le dossier). Rien n'a été écrit. Remplacez ce lien par "
            "un vrai dossier ou fichier, ou choisissez un autre dossier."
        )

    @contextlib.contextmanager
    def parent(self, name: str, *, create: bool = False) -> Iterator[tuple[int, str]]:
        """(descriptor of the folder holding `name`, its last part), opened without links."""
        *dirs, last = PurePosixPath(name).parts
        fd = self.fd
        opened: list[int] = []
        try:
            for i, part in enumerate(dirs):
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=fd)
                try:
                    fd = os.open(part, _DIRECTORY, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR) and stat.S_ISLNK(
                        os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode
                    ):
                        raise self.refuse_link("/".join(dirs[: i + 1])) from None
                    raise
                opened.append(fd)
            yield fd, last
        finally:
            for descriptor in opened:
                os.close(descriptor)

    def listing(self) -> _Listing:
        """Every file and folder below the root; refuses links and special files."""
        found = _Listing()
        stack: list[tuple[str, int]] = [("", os.dup(self.fd))]
        try:
            while stack:
                prefix, fd = stack[-1]
                with os.scandir(fd) as scan:
                    entries = list(scan)
                stack.pop()
                try:
                    for entry in entries:
                        name = prefix + entry.name
                        if entry.is_symlink():
                            raise self.refuse_link(name)
                        if entry.is_dir(follow_symlinks=False):
                            found.dirs.add(name)
                            stack.append((name + "/", os.open(entry.name, _DIRECTORY, dir_fd=fd)))
                        elif entry.is_file(follow_symlinks=False):
                            found.files.add(name)
                        else:
                            raise SiteFolderRefused(
                                f"Le dossier du site « {self.path} » contient « "
                                f"{self.shown(name)} », qui n'est ni un fichier ni un dossier :"
                                " rien n'a été écrit. Choisissez un autre dossier."
                            )
                finally:
                    os.close(fd)
        finally:
            for _, fd in stack:
                os.close(fd)
        return found

    def read(self, name: str) -> bytes:
        with self.parent(name) as (fd, last):
            try:
                handle = os.open(last, os.O_RDONLY | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise self.refuse_link(name) from None
                raise
            with os.fdopen(handle, "rb") as stream:
                return stream.read(_MAX_CONTROL_BYTES + 1)

    def same(self, name: str, content: bytes) -> bool:
        try:
            with self.parent(name) as (fd, last):
                info = os.stat(last, dir_fd=fd, follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode) or info.st_size != len(content):
                    return False
                handle = os.open(last, os.O_RDONLY | _NOFOLLOW, dir_fd=fd)
                with os.fdopen(handle, "rb") as stream:
                    return stream.read() == content
        except FileNotFoundError:
            return False

    def write(self, name: str, content: bytes, *, build: str) -> None:
        """Write `name` under a partial name, then rename it in place (never through a link)."""
        with self.parent(name, create=True) as (fd, last):
            partial = _partial(last, build)
            handle = os.open(partial, _NEW_FILE, 0o644, dir_fd=fd)
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(content)
                os.replace(partial, last, src_dir_fd=fd, dst_dir_fd=fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(partial, dir_fd=fd)
                raise

    def create(self, name: str, content: bytes) -> None:
        """Write a new top-level file in one go (the journal): it must not exist yet."""
        handle = os.open(name, _NEW_FILE, 0o644, dir_fd=self.fd)
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())

    def delete(self, names: set[str]) -> None:
        """Delete these files (links are never followed) and the folders they leave empty."""
        emptied: set[str] = set()
        for name in sorted(names):
            # Already gone (a build killed while deleting): nothing to do.
            with contextlib.suppress(FileNotFoundError), self.parent(name) as (fd, last):
                if stat.S_ISDIR(os.stat(last, dir_fd=fd, follow_symlinks=False).st_mode):
                    continue
                os.unlink(last, dir_fd=fd)
                parents = PurePosixPath(name).parents
                emptied.update(str(p) for p in parents if str(p) != ".")
        for folder in sorted(emptied, key=lambda p: p.count("/"), reverse=True):
            with contextlib.suppress(OSError), self.parent(folder) as (fd, last):
                os.rmdir(last, dir_fd=fd)  # empty folders only


def _partial(name: str, build: str) -> str:
    return f".{name}.{build}.part"


def _partials(journal: _Control) -> set[str]:
    build = str((journal.body or {}).get("build", ""))
    if not build:
        return set()
    found = set()
    for name in journal.names("files") | {MANIFEST}:
        path = PurePosixPath(name)
        found.add(str(path.with_name(_partial(path.name, build))))
    return found


def _read_control(folder: _Folder, name: str, kind: str, key: bytes | None) -> _Control:
    try:
        raw = folder.read(name)
        body = json.loads(raw.decode("utf-8")) if len(raw) <= _MAX_CONTROL_BYTES else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return _Control(name, None)
    signature = body.pop("signature", None)
    names_ok = all(
        isinstance(body.get(k, []), list) and all(_valid_name(n) for n in body.get(k, []))
        for k in ("files", "previous", "delete")
    )
    if not names_ok:
        return _Control(name, None, signed=signature is not None)
    trusted = (
        key is not None
        and isinstance(signature, str)
        and hmac.compare_digest(signature, _signature(key, kind, body))
    )
    return _Control(name, body, signed=signature is not None, trusted=trusted)


# --- what the folder is -----------------------------------------------------------------------


@dataclass
class _State:
    manifest: _Control | None  # accepted manifest (signed, or unsigned taken over once)
    journal: _Control | None  # accepted journal of an interrupted build
    stale: bool  # an unreadable journal to remove (truncated by a kill while written)


def _not_ours(folder: _Folder, offending: str, why: str) -> SiteFolderRefused:
    return SiteFolderRefused(
        f"Le dossier « {folder.path} » n'est pas un site de la carte écrit par cette base de "
        f"données ({why} : « {folder.shown(offending)} ») : rien n'y a été écrit ni supprimé. "
        "Choisissez un dossier nouveau ou vide, ou videz celui-ci."
    )


def _state(folder: _Folder, listing: _Listing, key: bytes | None) -> _State:
    files = listing.files
    if not files and not listing.dirs:
        return _State(None, None, stale=False)
    if key is None:
        raise SiteFolderRefused(
            f"Le dossier « {folder.path} » n'est pas vide, et la base de données est en lecture "
            "seule et n'a pas encore de clé pour signer le site : elle ne peut écrire que dans "
            f"un dossier vide (« {folder.shown(sorted(files | listing.dirs)[0])} » s'y trouve). "
            "Lancez une fois « carto site build » avec une base accessible en écriture, ou "
            "choisissez un dossier vide."
        )
    manifest = _read_control(folder, MANIFEST, "manifest", key) if MANIFEST in files else None
    journal = _read_control(folder, JOURNAL, "journal", key) if JOURNAL in files else None
    for control in (manifest, journal):
        if control is not None and control.signed and not control.trusted:
            raise _not_ours(folder, control.name, "signé par une autre base de données")
    if manifest is not None and manifest.body is None:
        raise _not_ours(folder, MANIFEST, "liste de fichiers illisible")
    stale = journal is not None and journal.body is None
    if stale:
        journal = None
    if (manifest and manifest.trusted) or (journal and journal.trusted):
        # Ours: files nobody of ours lists are left alone. An unsigned journal next to a signed
        # manifest is not ours to read: it is only removed.
        if journal is not None and not journal.trusted:
            return _State(manifest, None, stale=True)
        return _State(manifest, journal, stale)
    # Unsigned: an earlier release's manifest, or a journal written without a key. Ours only if
    # every file of the folder is listed there.
    claimed = {MANIFEST, JOURNAL}
    if manifest is not None:
        claimed |= manifest.names("files", "previous")
    if journal is not None:
        claimed |= journal.names("files", "delete") | _partials(journal)
    foreign = sorted(files - claimed)
    if not foreign and manifest is not None and journal is None:
        missing = sorted(manifest.names("files", "previous") - files)
        if missing:
            raise _not_ours(folder, missing[0], "fichier listé mais absent")
    if foreign or (manifest is None and journal is None and not stale):
        if foreign:
            raise _not_ours(folder, foreign[0], "fichier étranger au site")
        raise _not_ours(folder, sorted(files | listing.dirs)[0], "sans liste de fichiers")
    implied = {str(p) for name in claimed for p in PurePosixPath(name).parents if str(p) != "."}
    extra = sorted(listing.dirs - implied)
    if extra:
        raise _not_ours(folder, extra[0], "dossier étranger au site")
    return _State(manifest, journal, stale)


# --- writing -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[_Folder]:
    """The folder, created if missing, locked (one build at a time, across processes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield _Folder(out_dir, fd)
    finally:
        os.close(fd)  # releases the lock


def _recover(folder: _Folder, state: _State) -> None:
    """Finish an interrupted build: delete what it wrote that no manifest lists."""
    if state.journal is not None:
        live = {MANIFEST, JOURNAL}
        if state.manifest is not None:
            live |= state.manifest.names("files", "previous")
        written = state.journal.names("files", "delete") | _partials(state.journal)
        folder.delete(written - live)
    if state.journal is not None or state.stale:
        folder.delete({JOURNAL})


_WRITE_REASONS = {
    errno.EACCES: "droits insuffisants",
    errno.EPERM: "écriture interdite",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.ENOSPC: "disque plein",
    errno.EDQUOT: "quota de disque dépassé",
    errno.ENOTDIR: "un fichier porte ce nom ou celui d'un dossier parent",
    errno.EEXIST: "un fichier porte ce nom",
    errno.ENOENT: "fichier ou dossier disparu pendant l'écriture",
    errno.EISDIR: "un dossier porte le nom d'un fichier du site",
}


def _write_error(out_dir: Path, exc: OSError) -> SiteWriteError:
    reason = _WRITE_REASONS.get(exc.errno or 0, exc.strerror or str(exc))
    where = f" (« {exc.filename} »)" if isinstance(exc.filename, str) else ""
    return SiteWriteError(
        f"Impossible d'écrire le site public dans « {out_dir} » : {reason}{where}. Le site "
        "déjà en place reste entier. Donnez à l'utilisateur qui lance Carto solidaire le droit "
        "d'écrire dans ce dossier, ou choisissez-en un autre."
    )


@contextlib.contextmanager
def _writing(out_dir: Path) -> Iterator[None]:
    """OSError from the folder -> a French SiteWriteError."""
    try:
        yield
    except OSError as exc:
        raise _write_error(out_dir, exc) from exc


def write_site(
    out_dir: Path,
    files: Mapping[str, bytes] | Callable[[], Mapping[str, bytes]],
    *,
    version: int | None,
    key: bytes | None,
) -> int | None:
    """Write the site `files` ({relative path: bytes}, or what calling it returns) of `version`
    into `out_dir`, signed with `key` (None: a read-only store, which writes only into an empty
    folder). A callable is called once the folder is locked and accepted.

    Returns the newer version already online when there is one (nothing written), else None.
    SiteFolderRefused when the folder is not ours; SiteWriteError when it cannot be written.
    """
    out_dir = Path(out_dir).absolute()
    make = files if callable(files) else (lambda: files)
    # Nothing to look at in a folder not there yet: no folder is left behind when making fails.
    ready = None if out_dir.exists() or out_dir.is_symlink() else make()
    with contextlib.ExitStack() as locked:
        with _writing(out_dir):
            folder = locked.enter_context(_locked(out_dir))
            state = _state(folder, folder.listing(), key)
            _recover(folder, state)
        manifest = state.manifest
        online = (manifest.body or {}).get("version") if manifest else None
        if isinstance(online, int) and version is not None and online > version:
            return online
        site = ready if ready is not None else make()  # its errors are not the folder's
        with _writing(out_dir):
            _write(folder, site, manifest=manifest, version=version, key=key)
    return None


def _write(
    folder: _Folder,
    files: Mapping[str, bytes],
    *,
    manifest: _Control | None,
    version: int | None,
    key: bytes | None,
) -> None:
    """Journal, files, manifest, page, older files deleted, journal removed."""
    current = manifest.names("files") if manifest else set()
    older = manifest.names("previous") if manifest else set()
    build = uuid.uuid4().hex[:12]
    delete = sorted(older - current - set(files))
    folder.create(
        JOURNAL,
        _signed(
            key,
            "journal",
            {"format": FORMAT, "build": build, "files": sorted(files), "delete": delete},
        ),
    )
    # 1. Every file but the page: new hashed names (or unchanged files), unseen by visitors.
    for name, content in files.items():
        if name not in (INDEX, INDEX + ".gz") and not folder.same(name, content):
            folder.write(name, content, build=build)
    # 2. What makes the site now, then the page in one rename (its twin first).
    data = next((n for n in files if n.startswith("data.") and n.endswith(".js")), None)
    body = {
        "format": FORMAT,
        "version": version,
        "data": data,
        "files": sorted(files),
        "previous": sorted(current - set(files)),
    }
    folder.write(MANIFEST, _signed(key, "manifest", body), build=build)
    for name in (INDEX + ".gz", INDEX):
        if name in files:
            folder.write(name, files[name], build=build)
    # 3. The site before the previous one goes; nothing we did not list.
    folder.delete(set(delete))
    folder.delete({JOURNAL})
