"""What the diffraction demos share: the shipped beamline config and the sample folder's calibration.

``xsuite demo`` runs each pipeline the way a user would: the beamline config they copy from
``beamline_configs/`` plus the command-line overrides of the sample data's own calibration (``--poni``,
``--mask``), never from the sample data's ``ground_truth.json`` (the tests compare the result with it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from xsuite.errors import ConfigError, InputNotFoundError

__all__ = ["shipped_config", "sample_calibration", "cli_line"]

_MASK_SUFFIXES = (".tif", ".tiff", ".npy", ".edf", ".h5")


def shipped_config(name: str, sample_dir: Path) -> Path:
    """The beamline config ``name`` as shipped in ``beamline_configs/`` beside the sample data (or in the
    source tree of the installed package).

    Parameters
    ----------
    name : str
        File name, e.g. ``"ssrl_11-3_gixrd.yaml"``.
    sample_dir : Path
        The sample data folder (``sample_data`` or one of its sub-folders).

    Returns
    -------
    Path

    Raises
    ------
    InputNotFoundError
        No ``beamline_configs/<name>`` in any of the places looked at.

    Examples
    --------
    >>> shipped_config("ssrl_11-3_gixrd.yaml", Path("sample_data/gixrd")).name  # doctest: +SKIP
    'ssrl_11-3_gixrd.yaml'
    """
    here = Path(sample_dir).resolve()
    places = [p / "beamline_configs" / name for p in (here, *list(here.parents)[:2])]
    places.append(Path(__file__).resolve().parents[2] / "beamline_configs" / name)
    for p in places:
        if p.is_file():
            return p
    raise InputNotFoundError(f"beamline config {name} not found (looked in {', '.join(str(p.parent) for p in places)})")


def sample_calibration(folder: Path) -> tuple[Path, Optional[Path]]:
    """(PONI, mask or None) of a sample data folder: its one ``*.poni`` file and its ``mask.*`` image — the
    files a user gives as ``--poni`` and ``--mask``.

    Raises
    ------
    ConfigError
        No PONI file, or several.
    """
    folder = Path(folder)
    ponis = sorted(folder.glob("*.poni"))
    if len(ponis) != 1:
        raise ConfigError(f"{folder}: expected one PONI calibration (*.poni) in the sample data; found "
                          f"{len(ponis) or 'none'}")
    masks = [p for p in sorted(folder.glob("mask.*")) if p.suffix.lower() in _MASK_SUFFIXES]
    return ponis[0].resolve(), (masks[0].resolve() if masks else None)


def cli_line(command: str, config: Path, poni: Path, mask: Optional[Path], *args: str) -> str:
    """The ``xsuite`` command line a user would type for the same run (stored in the demo's JSON)."""
    parts = ["xsuite", command, "--config", str(config), "--poni", str(poni)]
    if mask is not None:
        parts += ["--mask", str(mask)]
    return " ".join(parts + list(args))
