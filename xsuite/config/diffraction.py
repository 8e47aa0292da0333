"""Config section ``diffraction:`` of the xrd and gixrd pipelines.

Example (``beamline_configs/ssrl_11-3_gixrd.yaml``)::

    diffraction:
      poni: ssrl_11-3_gixrd.poni
      wavelength_angstrom: 0.97625        # 12.7 keV; overrides the PONI
      polarization_factor: 0.99
      n_points: 2000
      gixrd:
        incidence_angles_deg: [2, 4, 6]
        composition: Li3YCl6
        density_g_cm3: 2.4
        track: [LiCl.H2O, YCl3.6H2O]
        interval_s: 360

Every key is optional except where noted; defaults are given on each field. Command-line flags override
the values through :func:`xsuite.config.base.with_overrides`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional, Union

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from xsuite.config.base import ConfigPath, XsuiteModel, register_model

__all__ = ["DiffractionConfig", "GixrdConfig", "XrdConfig", "ReflectionChoice", "PhaseEntry"]


def _resolve_cif_entry(value: str, info: ValidationInfo) -> str:
    """A ``.cif`` entry becomes an absolute path (against the config file's folder, else the current one)."""
    text = value.strip()
    if not text.lower().endswith(".cif"):
        return value
    path = Path(text).expanduser()
    if not path.is_absolute():
        base = (info.context or {}).get("base_dir") if info is not None else None
        path = (Path(base) if base is not None else Path.cwd()) / path
    return str(path)


PhaseEntry = Annotated[str, AfterValidator(_resolve_cif_entry)]
"""A phase: built-in name or alias (``LiCl.H2O``, ``LYC``) or the path of a user ``.cif`` file (relative paths
resolve against the config file, or the current directory for command-line values)."""


DepthDefinition = Literal["incident_exit_1e", "incident_1e", "incident_1e_amplitude", "incident_1e_refracted"]
"""Names of :data:`xsuite.diffraction.depth.DEPTH_DEFINITIONS` (kept equal by a test)."""


class ReflectionChoice(XsuiteModel):
    """One reflection the user wants tracked (instead of the automatic choice).

    Examples
    --------
    >>> from xsuite.config.diffraction import ReflectionChoice
    >>> r = ReflectionChoice(phase="LiCl.H2O", hkl="001")
    >>> r.phase, r.hkl, r.window_inv_angstrom
    ('LiCl.H2O', '001', None)
    """

    phase: PhaseEntry = Field(..., description="Phase identifier, e.g. 'LiCl.H2O', or a user CIF path 'my.cif'.")
    hkl: Optional[str] = Field(None, description="Miller indices as text, e.g. '001' or '1 0 -1'.")
    q_inv_angstrom: Optional[float] = Field(None, gt=0, description="Position (1/Å) if no hkl is given.")
    window_inv_angstrom: Optional[float] = Field(
        None, gt=0, description="Half-width of the fit window (1/Å) around the reflection; None = 0.05.")

    @model_validator(mode="after")
    def _one_of(self) -> "ReflectionChoice":
        if self.hkl is None and self.q_inv_angstrom is None:
            raise ValueError("give `hkl` or `q_inv_angstrom` for each reflection")
        return self


class GixrdConfig(XsuiteModel):
    """Grazing-incidence series: geometry, sample, tracking and detection rule.

    Examples
    --------
    >>> from xsuite.config.diffraction import GixrdConfig
    >>> g = GixrdConfig(incidence_angles_deg=[2, 4, 6], interval_s=360)
    >>> g.incidence_angles_deg, g.interval_s, g.track
    ([2.0, 4.0, 6.0], 360.0, ['LiCl.H2O', 'YCl3.6H2O'])
    """

    incidence_angles_deg: list[float] = Field(
        default_factory=lambda: [2.0, 4.0, 6.0],
        description="Incidence angles (deg) measured; one integrator and one results entry per angle.")
    tilt_angle_deg: float = Field(0.0, ge=-90, le=90, description="Sample roll about the beam (deg).")
    sample_orientation: int = Field(1, ge=1, le=8, description="pyFAI/EXIF orientation (1-8) of the surface normal.")
    horizon_margin_deg: float = Field(0.0, ge=0, le=5, description="Extra exit angle above the horizon masked (deg).")
    composition: Optional[str] = Field(None, description="Sample formula for depth and critical angle, e.g. 'Li3YCl6'.")
    density_g_cm3: Optional[float] = Field(None, gt=0, le=30, description="(Packing) density in g/cm3.")
    depth_definition: DepthDefinition = Field(
        "incident_exit_1e",
        description="Probing depth shown in the depth table and figure (xsuite.diffraction.depth.DEPTH_DEFINITIONS): "
                    "'incident_exit_1e' 1/e depth of incident + exit path at the reflection's 2θ; 'incident_1e' "
                    "incident-beam 1/e penetration sin α/µ (the paper's ~6/13/21 µm); 'incident_1e_amplitude' "
                    "2 sin α/µ; 'incident_1e_refracted' with refraction (needed within ~3x the critical angle).")
    depth_two_theta_deg: Optional[float] = Field(
        None, gt=0, lt=180,
        description="2θ (deg) of the reflection the `incident_exit_1e` exit path is taken for; None = the first "
                    "tracked reflection.")
    refraction_correction: bool = Field(
        False, description="Correct |q| and q_oop for refraction (needs composition and density); off by default.")
    track: list[PhaseEntry] = Field(default_factory=lambda: ["LiCl.H2O", "YCl3.6H2O"],
                                    description="Phases whose growth is tracked (names or user .cif paths).")
    matrix_phases: list[PhaseEntry] = Field(
        default_factory=lambda: ["Li3YCl6"],
        description="Phases present from the start, names or user .cif paths (their peaks are avoided).")
    reflections: Optional[list[ReflectionChoice]] = Field(
        None, description="User choice of reflections to track; None = automatic (well separated ones).")
    significance_threshold: float = Field(
        3.0, gt=0, description="Series-level significance (σ) of growth detection: a series with no growth is "
                               "reported detected with probability Φ̄(threshold) (3 → 0.00135), whatever its length "
                               "(xsuite.diffraction.onset).")
    n_consecutive: int = Field(
        3, ge=1, le=100, description="Consecutive frames above the per-frame threshold (calibrated for this false-alarm "
                                     "rate) from which growth counts as sustained; the onset is the first of them.")
    interval_s: Optional[float] = Field(None, gt=0, description="Frame interval (s) when headers carry no time.")
    start_time_s: float = Field(
        0.0, ge=0, description="Air-exposure time (s) of the first frame with `interval_s`: frame i is at "
                               "time_s = start_time_s + i * interval_s (CLI --start-time).")
    map_2d: bool = Field(True, description="Store the q_ip/q_oop map of the last frame.")

    @field_validator("incidence_angles_deg")
    @classmethod
    def _angles(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("give at least one incidence angle, e.g. [2, 4, 6]")
        for a in v:
            if not 0 < a < 90:
                raise ValueError(f"each incidence angle must be between 0 and 90 deg; got {a}. Try 2, 4 or 6")
        return v

    @model_validator(mode="after")
    def _refraction_needs_material(self) -> "GixrdConfig":
        if self.refraction_correction and (self.composition is None or self.density_g_cm3 is None):
            raise ValueError("`refraction_correction` needs `composition` and `density_g_cm3`")
        return self


class XrdConfig(XsuiteModel):
    """Transmission XRD: phases to assign, calibrant and instrument resolution.

    Examples
    --------
    >>> from xsuite.config.diffraction import XrdConfig
    >>> x = XrdConfig(phases=["Li3YCl6"], instrument_fwhm_inv_angstrom=0.01)
    >>> x.phases, x.scherrer_k, x.min_significance
    (['Li3YCl6'], 0.9, 5.0)
    """

    phases: list[PhaseEntry] = Field(
        default_factory=lambda: ["Li3YCl6"],
        description="Phases used to label peaks: names, user .cif paths or pyFAI calibrants (CeO2, LaB6).")
    calibrant: Optional[str] = Field(None, description="pyFAI calibrant name of a calibration frame, e.g. 'CeO2'.")
    calibrant_file: Optional[ConfigPath] = Field(
        None, description="Image of the calibrant (instrument width; needs `calibrant`). Not compared as a sample.")
    reference: Optional[str] = Field(
        None, description="Sample the others are compared with; None = the first input that is not the "
                          "calibrant image.")
    instrument_fwhm_inv_angstrom: Optional[float] = Field(
        None, gt=0, description="Instrumental FWHM in q (1/Å) if no calibrant image is given.")
    scherrer_k: float = Field(0.9, gt=0, le=2, description="Scherrer shape factor.")
    min_significance: float = Field(5.0, gt=0, description="Minimum area/σ for a peak to be reported.")
    match_tolerance_inv_angstrom: float = Field(0.01, gt=0, description="Max |q − q_ref| to assign a phase.")
    cake: Optional[bool] = Field(
        None, description="Store the 2D cake (of a sample's last frame): None = for single images only (a "
                          "series of frames gets none unless asked), True = always, False = never.")


@register_model
class DiffractionConfig(XsuiteModel):
    """Settings shared by the xrd and gixrd pipelines (the ``diffraction:`` section).

    Examples
    --------
    >>> from xsuite.config.diffraction import DiffractionConfig
    >>> d = DiffractionConfig(n_points=500, unit="2th_deg")
    >>> d.n_points, d.unit, d.error_model
    (500, '2th_deg', 'poisson')
    >>> d.integration_settings().n_points
    500
    """

    poni: Optional[ConfigPath] = Field(None, description="pyFAI PONI calibration file (required to run).")
    mask: Optional[ConfigPath] = Field(None, description="Mask image (non-zero = excluded pixel).")
    dark: Optional[ConfigPath] = Field(None, description="Dark-current image (mean of its frames), subtracted "
                                                        "(CLI --dark).")
    flat: Optional[ConfigPath] = Field(None, description="Flat-field image (mean of its frames, normalised to its "
                                                        "median), divided (CLI --flat).")
    orientation: Optional[Union[Annotated[int, Field(ge=1, le=8)], Literal["auto"]]] = Field(
        None,
        description="Orientation in which the files store the image (pyFAI convention 1-4, EXIF 5-8); frames, "
                    "masks, darks and flats are re-ordered to the PONI's detector orientation. None = as stored. "
                    "'auto' (transmission XRD with a calibrant or phases named): the orientation in which the "
                    "reference reflections index clearly best (xsuite.diffraction.orientation), recorded in "
                    "the results file.")
    flip_ud: bool = Field(False, description="Frames need an up-down flip to match the PONI (ignored with `orientation`).")
    flip_lr: bool = Field(False, description="Frames need a left-right flip to match the PONI (ignored with `orientation`).")
    wavelength_angstrom: Optional[float] = Field(None, gt=0, lt=10, description="Overrides the PONI wavelength (Å).")
    n_points: Optional[int] = Field(
        None, ge=10, le=100000,
        description="Radial bins of 1D patterns; None = three bins per pixel step in q.")
    error_oversampling_correction: bool = Field(
        False, description="Legacy: scale sigma by sqrt(bins per pixel step) instead of storing the bin "
                           "correlation (fits then over-state errors); default False: true per-bin sigma "
                           "plus the correlation, used by the fits (see xsuite.diffraction.noise).")
    unit: Literal["q_A^-1", "2th_deg", "d_A"] = Field(
        "q_A^-1", description="Plotted axis of transmission patterns (q, d and 2theta are all stored); "
                              "GIXRD series always use q.")
    radial_range_inv_angstrom: Optional[tuple[float, float]] = Field(None, description="q range (1/Å) of 1D patterns.")
    polarization_factor: Optional[float] = Field(0.99, ge=-1, le=1, description="pyFAI polarisation factor; None = off.")
    correct_solid_angle: bool = Field(True, description="Solid-angle correction.")
    splitting: Literal["full", "bbox", "no"] = Field("full", description="Pixel splitting of the CSR engine.")
    error_model: Literal["poisson", "azimuthal", "none"] = Field("poisson", description="pyFAI error model.")
    monitor_key: Optional[str] = Field(None, description="Header key of the per-frame I0 monitor; None = auto/no.")
    monitor_reference: float = Field(
        1.0, gt=0, description="Intensities are scaled to this monitor value: I * monitor_reference / I0.")
    gixrd: Optional[GixrdConfig] = Field(None, description="Grazing-incidence settings.")
    xrd: Optional[XrdConfig] = Field(None, description="Transmission settings.")

    @field_validator("radial_range_inv_angstrom")
    @classmethod
    def _range(cls, v: Optional[tuple[float, float]]) -> Optional[tuple[float, float]]:
        if v is not None and not 0 <= v[0] < v[1]:
            raise ValueError(f"must be (low, high) with 0 <= low < high; got {v}")
        return v

    def integration_settings(self):  # -> IntegrationSettings (lazy import keeps config light)
        """The :class:`~xsuite.diffraction.integrate.IntegrationSettings` these values describe."""
        from xsuite.diffraction.integrate import IntegrationSettings

        return IntegrationSettings(
            n_points=self.n_points, error_oversampling_correction=self.error_oversampling_correction,
            radial_range_inv_angstrom=self.radial_range_inv_angstrom,
            polarization_factor=self.polarization_factor, correct_solid_angle=self.correct_solid_angle,
            splitting=self.splitting, error_model=self.error_model)
