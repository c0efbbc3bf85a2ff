"""The project's one error hierarchy. Messages are French: users read them."""

from __future__ import annotations


class CartoError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(CartoError):
    """A configuration variable or option has an unusable value."""


class ReadError(CartoError):
    """A file cannot be read as a table (encoding, format, size)."""


class SchemaError(CartoError):
    """A table cannot be mapped onto the initiatives schema (e.g. a required column is missing)."""


class GazetteerError(CartoError):
    """The gazetteer files are missing or cannot be built."""


class GeocodingError(CartoError):
    """An online geocoder failed or is not configured."""


class StorageError(CartoError):
    """The database refused an operation."""


class ConflictError(StorageError):
    """Someone published a newer version since the editor's base version."""
