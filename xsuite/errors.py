"""One family of errors for the whole toolkit.

They subclass built-ins so that callers can catch what they already know (``ValueError``,
``FileNotFoundError``). The CLI turns any :class:`XsuiteError` into one line on stderr and exit status 2.
Messages name the file, the field and what was expected, e.g.::

    `incidence_angle_deg` must be between 0 and 90; got 120 (config ssrl_11-3_gixrd.yaml). Try 2, 4 or 6.
"""

from __future__ import annotations


class XsuiteError(Exception):
    """Base class of every error xsuite raises on purpose."""


class ConfigError(XsuiteError, ValueError):
    """A beamline config or a command-line value is wrong (unknown key, bad type, out of range)."""


class DataFormatError(XsuiteError, ValueError):
    """An input file cannot be read as the data it should hold (corrupt, truncated, wrong shape, NaNs...)."""


class InputNotFoundError(XsuiteError, FileNotFoundError):
    """An input file or dataset named by the user does not exist."""


class ResultsFileError(XsuiteError, OSError):
    """The results (NeXus/HDF5) file cannot be opened, or does not hold what was asked for."""


def error_reason(exc: BaseException) -> str:
    """One line describing an exception: the message of an :class:`XsuiteError`, else ``Type: message``.

    Examples
    --------
    >>> error_reason(DataFormatError("a.tif: truncated\\nmore"))
    'a.tif: truncated'
    >>> error_reason(KeyError("x"))
    "KeyError: 'x'"
    """
    msg = str(exc).splitlines()[0] if str(exc) else ""
    if isinstance(exc, XsuiteError):
        return msg or type(exc).__name__
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
