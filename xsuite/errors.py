"""One family of errors for the whole toolkit.

They subclass built-ins so that callers can catch what they already know (``ValueError``,
``FileNotFoundError``). The CLI turns any :class:`XsuiteError` into one line on stderr and exit status 2.
Messages name the file, the field and what was expected, e.g.::

    `incidence_angle_deg` must be between 0 and 90; got 120 (config ssrl_11-3_gixrd.yaml). Try 2, 4 or 6.
"""

from __future__ import annotations


class XsuiteError(Exception):
    """Base class of every error xsuite raises on purpose.

    Examples
    --------
    >>> from xsuite.errors import XsuiteError, ConfigError, DataFormatError, error_reason
    >>> issubclass(ConfigError, XsuiteError)
    True
    >>> try:
    ...     raise DataFormatError("scan.xdi: no energy column")
    ... except XsuiteError as exc:
    ...     print(error_reason(exc))
    ...
    scan.xdi: no energy column
    """


class ConfigError(XsuiteError, ValueError):
    """A beamline config or a command-line value is wrong (unknown key, bad type, out of range).

    Examples
    --------
    >>> from xsuite.errors import ConfigError
    >>> err = ConfigError("`nnorm` must be 0-3; got 5 (config xanes.yaml)")
    >>> isinstance(err, ValueError)
    True
    >>> raise err
    Traceback (most recent call last):
        ...
    xsuite.errors.ConfigError: `nnorm` must be 0-3; got 5 (config xanes.yaml)
    """


class DataFormatError(XsuiteError, ValueError):
    """An input file cannot be read as the data it should hold (corrupt, truncated, wrong shape, NaNs...).

    Examples
    --------
    >>> from xsuite.errors import DataFormatError
    >>> isinstance(DataFormatError("x"), ValueError)
    True
    >>> raise DataFormatError("frame_001.tif: truncated (expected 4 MB, got 1 MB)")
    Traceback (most recent call last):
        ...
    xsuite.errors.DataFormatError: frame_001.tif: truncated (expected 4 MB, got 1 MB)
    """


class InputNotFoundError(XsuiteError, FileNotFoundError):
    """An input file or dataset named by the user does not exist.

    Examples
    --------
    >>> from xsuite.errors import InputNotFoundError
    >>> isinstance(InputNotFoundError("x"), FileNotFoundError)
    True
    >>> raise InputNotFoundError("missing.poni: no such file")
    Traceback (most recent call last):
        ...
    xsuite.errors.InputNotFoundError: missing.poni: no such file
    """


class ResultsFileError(XsuiteError, OSError):
    """The results (NeXus/HDF5) file cannot be opened, or does not hold what was asked for.

    Examples
    --------
    >>> from xsuite.errors import ResultsFileError
    >>> isinstance(ResultsFileError("x"), OSError)
    True
    >>> raise ResultsFileError("results.h5: no entry 'gixrd_LYC'")
    Traceback (most recent call last):
        ...
    xsuite.errors.ResultsFileError: results.h5: no entry 'gixrd_LYC'
    """


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
