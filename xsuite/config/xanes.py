"""Config section ``xanes:`` — settings of the XANES pipeline (reading, calibration, normalisation, LCF)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from xsuite.config.base import ConfigPath, XsuiteModel

__all__ = ["XanesConfig", "XanesColumns"]


class XanesColumns(XsuiteModel):
    """Column names in the scan files (None / empty = detect from the XDI dictionary and common beamline
    names: i0/I0, itrans/I1/It, irefer/I2/Ir/Iref, ifluor/If, ROIn/SCA1_n/Ifchn + ICRn/OCRn or DTFactor,
    <El>_Ka_mcaN; see ``xsuite.io.spectra.VOCABULARY``).

    Examples
    --------
    >>> from xsuite.config.xanes import XanesColumns
    >>> cols = XanesColumns(energy="energy", i0="i0", ifluor=["roi1", "roi2"])
    >>> cols.fluorescence
    ['roi1', 'roi2']
    """

    energy: Optional[str] = Field(None, description="Energy column (eV), e.g. 'energy' or 'achieved_energy'.")
    i0: Optional[str] = Field(None, description="Incident-flux monitor column (XDI i0).")
    i1: Optional[str] = Field(None, description="Transmission detector column after the sample (XDI itrans).")
    i2: Optional[str] = Field(None, description="Detector after the reference foil (XDI irefer; reference = "
                              "ln(I1/I2)).")
    ifluor: list[str] = Field(default_factory=list, description="Fluorescence columns (XDI ifluor): one, or one "
                              "ROI per detector element; dead-time partners (ICR/OCR, DTFactor) are found by number.")
    rois: list[str] = Field(default_factory=list, description="Same as ifluor (older name).")
    icr: list[str] = Field(default_factory=list, description="Input-count columns per element (dead time).")
    ocr: list[str] = Field(default_factory=list, description="Output-count columns per element (dead time).")
    mu: Optional[str] = Field(None, description="A column already holding mu(E) (mode 'mu').")
    dtfactor: list[str] = Field(default_factory=list, description="Ready dead-time factor columns per element "
                                "(e.g. GSECARS DTFactor), instead of icr/ocr.")

    @property
    def fluorescence(self) -> list[str]:
        """The fluorescence columns (``ifluor``, else ``rois``)."""
        return list(self.ifluor or self.rois)

    @model_validator(mode="after")
    def _dead_time_pairs(self) -> "XanesColumns":
        if self.ifluor and self.rois and list(self.ifluor) != list(self.rois):
            raise ValueError("give the fluorescence columns once, as ifluor (rois is its older name)")
        n = len(self.fluorescence)
        if (self.icr or self.ocr) and not (len(self.icr) == len(self.ocr) == n):
            raise ValueError(f"icr and ocr need one column per ROI ({n}); got {len(self.icr)} icr, "
                             f"{len(self.ocr)} ocr")
        return self


Mode = Literal["auto", "transmission", "fluorescence", "reference", "mu", "norm"]


class XanesConfig(XsuiteModel):
    """XANES pipeline settings (section ``xanes`` of a beamline config).

    Examples
    --------
    >>> from xsuite.config.xanes import XanesConfig
    >>> cfg = XanesConfig(element="Y", edge="K", standards={"Y0": "Y_foil.dat"})
    >>> cfg.element, cfg.fit_range_ev, cfg.sum_to_one
    ('Y', (-20.0, 30.0), True)
    >>> cfg.standards["Y0"].name
    'Y_foil.dat'
    """

    element: Optional[str] = Field(None, description="Absorbing element (e.g. Y, Fe, Cu); None = from the scan "
                                   "header (XDI Element.symbol), else the tabulated edge nearest to the data's edge "
                                   "(recorded as an assumption).")
    edge: Optional[str] = Field(None, description="Absorption edge (K, L3, ...); None = header, else K (or guessed "
                                "with the element).")
    tabulated_e0_ev: Optional[float] = Field(None, description="Edge energy to calibrate to and to search E0 near; "
                                             "None = xraydb value of element/edge (Y K 17038.0 eV).")
    reference_element: Optional[str] = Field(None, description="Element of the reference foil if not the "
                                             "absorber (a Y foil calibrating a U L3 scan).")
    reference_edge: Optional[str] = Field(None, description="Edge of the reference foil (default: edge).")
    edge_search_ev: float = Field(40.0, gt=0, le=500, description="E0 (and the reference edge) are searched within "
                                  "the tabulated edge +/- this (chemical shift, mono offset).")
    mode: Mode = Field(
        "auto",
        description="How mu(E) of the samples is formed: ln(I0/I1) transmission, sum(ROI*DT)/I0 fluorescence, "
        "ln(I1/I2) reference, a mu column, or a column already normalised; auto = fluorescence if the scan has "
        "fluorescence channels, else transmission, else a mu column.")
    standards_mode: Mode = Field("auto", description="Same, for the standards' files (a library of normalised "
                                 "spectra is taken as it is).")
    columns: XanesColumns = Field(default_factory=XanesColumns, description="Column mapping of the sample scans.")
    standards_columns: XanesColumns = Field(default_factory=XanesColumns,
                                            description="Column mapping of the standards' files (default: detect).")
    subtract_offsets: bool = Field(True, description="Subtract dark-current offsets given in an SSRL header.")
    reference_channel: Optional[bool] = Field(
        None, description="Calibrate every scan with its reference foil ln(I1/I2): true = required, false = off, "
        "None = when the scan has a reference column with the edge in it.")
    calibration_smooth_ev: Optional[float] = Field(
        None, ge=0, le=10, description="Smoothing (eV) of the reference derivative; None = 2x the energy step "
        "near the edge (larch-like).")
    deglitch_threshold: Optional[float] = Field(None, gt=0, description="Deglitch single points above this level in "
                                                "robust sigma (e.g. 6); None = never (the default). Every changed "
                                                "point is logged, reported and stored.")
    deglitch_protect_ev: Optional[tuple[float, float]] = Field(
        (-20.0, 60.0), description="Energy range relative to the tabulated edge that deglitching never touches "
        "(edge and white line); None = deglitch everywhere.")
    e0_ev: Optional[float] = Field(None, description="Fixed E0 for normalisation; None = maximum of dmu/dE on the "
                                   "stored grid (xsuite.xanes.edge.E0_DEFINITION).")
    pre1_ev: Optional[float] = Field(None, description="Pre-edge fit start relative to E0 (larch pre1). None = "
                                     "-150 eV, or from the second point for a scan starting less than 60 eV below "
                                     "E0 (xsuite.xanes.normalize.default_windows). Clipped to the scan.")
    pre2_ev: Optional[float] = Field(None, description="Pre-edge fit end relative to E0 (larch pre2); None = -30 eV, "
                                     "or half-way from pre1 to E0 for a short pre-edge.")
    norm1_ev: Optional[float] = Field(None, description="Post-edge fit start relative to E0 (larch norm1); None = "
                                      "50 eV, or max(15 eV, norm2/3) for a XANES-only scan.")
    norm2_ev: Optional[float] = Field(None, description="Post-edge fit end relative to E0 (larch norm2); None = "
                                      "min(250 eV, end of the scan).")
    nnorm: Optional[int] = Field(1, ge=0, le=3, description="Post-edge polynomial degree.")
    flatten: bool = Field(True, description="Also compute flattened spectra.")
    fit_range_ev: tuple[float, float] = Field((-20.0, 30.0), description="LCF window relative to E0 (eV).")
    fit_space: Literal["norm", "deriv"] = Field("norm", description="Fit normalised mu(E) or its derivative.")
    sum_to_one: bool = Field(True, description="Constrain the LCF weights to sum to 1.")
    weighting: Literal["noise", "none"] = Field("noise", description="Weight points by 1/sigma^2 from the merge "
                                                "spread / high-frequency noise, or not at all (larch/Athena).")
    vary_shifts: bool = Field(False, description="Fit one energy shift per standard (nonlinear).")
    max_shift_ev: float = Field(2.0, gt=0, le=20, description="Bound of the per-standard shifts.")
    n_bootstrap: int = Field(0, ge=0, le=100000, description="Bootstrap replicas for confidence intervals.")
    combinatorial: bool = Field(False, description="Fit every subset of the standards, rank by R-factor (always on "
                                "with a library and no components).")
    max_components: int = Field(4, ge=1, le=8, description="Largest subset of a library fitted combinatorially.")
    standards: dict[str, ConfigPath] = Field(default_factory=dict, description="Standard name -> file, e.g. "
                                                   "Y0: Y0_foil.dat; FILE:COLUMN picks a column of a multi-column "
                                                   "file, FILE.prj:GROUP an Athena group.")
    libraries: list[ConfigPath] = Field(default_factory=list, description="Files of candidate standards: every "
                                        "column of a multi-column file (Athena .nor export), every group of a .prj.")
    components: list[str] = Field(default_factory=list, description="Library standards to fit (all of them: no "
                                  "combinatorics); empty = rank every subset up to max_components.")
    min_step_snr: float = Field(5.0, ge=0, description="Maps: pixels whose edge step is below this many standard "
                                "errors of the step are masked.")
    min_edge_step: Optional[float] = Field(None, ge=0, description="Maps: also mask pixels with a smaller edge "
                                           "step (raw mu units); None = 2 % of the 99th-percentile step.")
    positions_file: Optional[ConfigPath] = Field(None, description="CSV with label, x_um, y_um, distance_um.")
    series: str = Field("xanes", description="Series name; the results entry is xanes_<series> (just `xanes` "
                        "for the default).")

    @model_validator(mode="after")
    def _ranges(self) -> "XanesConfig":
        lo, hi = self.fit_range_ev
        if not lo < hi:
            raise ValueError(f"fit_range_ev must be (min, max) with min < max; got {self.fit_range_ev}")
        if self.pre1_ev is not None and self.pre2_ev is not None and not self.pre1_ev < self.pre2_ev <= 0:
            raise ValueError(f"need pre1_ev < pre2_ev <= 0; got {self.pre1_ev}, {self.pre2_ev}")
        if self.norm1_ev is not None and self.norm2_ev is not None and not 0 <= self.norm1_ev < self.norm2_ev:
            raise ValueError(f"need 0 <= norm1_ev < norm2_ev; got {self.norm1_ev}, {self.norm2_ev}")
        return self
