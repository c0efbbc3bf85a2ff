"""The project's one error hierarchy. Messages are French: users read them."""

from __future__ import annotations


class CartoError(Exception):
    """Base of every error the project raises on purpose.

    `public`: what the pages show instead of the message, when the message is for the operator
    (a server path, a command to run); the message itself then goes to the server log only.
    """

    def __init__(self, *args: object, public: str | None = None) -> None:
        super().__init__(*args)
        self.public = public


class ConfigError(CartoError):
    """A configuration variable or option has an unusable value."""


class ReadError(CartoError):
    """A file cannot be read as a table (encoding, format, size)."""


class SheetError(ReadError):
    """The sheet to read must be named: several sheets hold data, or the one asked is missing.

    `choices` are the sheets to choose from, in workbook order: the data sheets, or every sheet
    when the one asked is missing. A CSV has none.
    """

    def __init__(self, message: str, *, choices: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.choices = choices


class GazetteerError(CartoError):
    """The gazetteer files are missing or cannot be built."""


class GeocodingError(CartoError):
    """An online geocoder failed or is not configured."""


class StorageError(CartoError):
    """The database refused an operation."""


class ConflictError(StorageError):
    """Someone published a newer version since the editor's base version."""


class SiteWriteError(CartoError):
    """The public site's folder cannot be written (read-only, full): the site in place stays."""


class InvalidImport(CartoError):
    """The file has errors, or conflicts with the published version: nothing may be published."""


class NothingToPublish(CartoError):
    """A publication or rollback would leave the map as it is: no version is made (the pages
    and `carto` say so and exit 0)."""


class UsageError(CartoError):
    """The command line itself is wrong (`carto` exits with 2)."""


class ZoneError(CartoError):
    """A `zone` cell names no known area: `part` is the piece not recognised, `suggestions`
    close names (département, arrondissements, intercommunalités, communes)."""

    def __init__(self, message: str, *, part: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.part = part
        self.suggestions = suggestions
