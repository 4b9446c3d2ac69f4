"""Errors a user can cause. The CLI prints their message as one line and exits with code 2."""


class GanKitError(Exception):
    """Base class of every error a user can cause (bad path, bad data, bad flag, bad run)."""


class DataError(GanKitError):
    """A dataset cannot be found, read or used (unknown name, empty folder, wrong shape or dtype)."""


class DownloadError(DataError):
    """A download failed: no mirror answered, or the file was cut short."""


class ChecksumError(DownloadError):
    """A downloaded or local file does not match its published SHA-256 sum."""


class ConfigError(GanKitError):
    """A configuration value is unknown, out of range or contradicts a run being resumed."""


class RunError(GanKitError):
    """A run directory is missing, corrupt, or is not a gankit run."""


class ExportError(GanKitError):
    """A generator cannot be exported: a package is missing, the exporter failed, or the written
    file does not reproduce the generator (it is then removed)."""


class GanKitWarning(UserWarning):
    """Something the user should know, said in one line (a fallback dataset, skipped files)."""
