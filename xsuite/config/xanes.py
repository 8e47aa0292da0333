"""Config section ``xanes:`` — settings of the XANES pipeline (reading, calibration, normalisation, LCF)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from xsuite.config.base import ConfigPath, XsuiteModel

__all__ = ["XanesConfig", "XanesColumns"]


class XanesColumns(XsuiteModel):
    """Column names in the scan files (None / empty = detect from common names such as I0, I1/It, I2/Ir,
    ROIn + ICRn/OCRn)."""

    energy: Optional[str] = Field(None, description="Energy column (eV), e.g. 'energy' or 'achieved_energy'.")
    i0: Optional[str] = Field(None, description="Incident-flux monitor column.")
    i1: Optional[str] = Field(None, description="Transmission detector column (after the sample).")
    i2: Optional[str] = Field(None, description="Detector after the reference foil (reference = ln(I1/I2)).")
    rois: list[str] = Field(default_factory=list, description="Fluorescence ROI columns, one per element.")
    icr: list[str] = Field(default_factory=list, description="Input-count columns per element (dead time).")
    ocr: list[str] = Field(default_factory=list, description="Output-count columns per element (dead time).")
    mu: Optional[str] = Field(None, description="A column already holding mu(E) (mode 'mu').")
    dtfactor: list[str] = Field(default_factory=list, description="Ready dead-time factor columns per element "
                                "(e.g. GSECARS DTFactor), instead of icr/ocr.")

    @model_validator(mode="after")
    def _dead_time_pairs(self) -> "XanesColumns":
        if (self.icr or self.ocr) and not (len(self.icr) == len(self.ocr) == len(self.rois)):
            raise ValueError(f"icr and ocr need one column per ROI ({len(self.rois)}); got {len(self.icr)} icr, "
                             f"{len(self.ocr)} ocr")
        return self


class XanesConfig(XsuiteModel):
    """XANES pipeline settings (section ``xanes`` of a beamline config)."""

    element: str = Field("Y", description="Absorbing element of sample and reference foil.")
    edge: str = Field("K", description="Absorption edge.")
    tabulated_e0_ev: Optional[float] = Field(None, description="Edge energy to calibrate to; None = xraydb value "
                                             "(Y K 17038.0 eV).")
    mode: Literal["transmission", "fluorescence", "mu"] = Field(
        "fluorescence",
        description="How mu(E) of the samples is formed: ln(I0/I1), sum(ROI*ICR/OCR)/I0, or a mu column.")
    standards_mode: Literal["transmission", "fluorescence", "mu"] = Field(
        "transmission", description="Same, for the standards' files.")
    columns: XanesColumns = Field(default_factory=XanesColumns, description="Column mapping of the sample scans.")
    standards_columns: XanesColumns = Field(default_factory=XanesColumns,
                                            description="Column mapping of the standards' files (default: detect).")
    subtract_offsets: bool = Field(True, description="Subtract dark-current offsets given in an SSRL header.")
    reference_channel: bool = Field(True, description="Calibrate every scan with its reference foil ln(I1/I2).")
    calibration_smooth_ev: Optional[float] = Field(
        None, ge=0, le=10, description="Smoothing (eV) of the reference derivative; None = 2x the energy step "
        "near the edge (larch-like).")
    deglitch_threshold: Optional[float] = Field(6.0, gt=0, description="Single-point glitch level in robust sigma "
                                                "(None = no deglitching).")
    e0_ev: Optional[float] = Field(None, description="Fixed E0 for normalisation; None = larch max-derivative.")
    pre1_ev: Optional[float] = Field(-150.0, description="Pre-edge fit start relative to E0 (None = larch default).")
    pre2_ev: Optional[float] = Field(-30.0, description="Pre-edge fit end relative to E0.")
    norm1_ev: Optional[float] = Field(50.0, description="Post-edge fit start relative to E0.")
    norm2_ev: Optional[float] = Field(250.0, description="Post-edge fit end relative to E0.")
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
    combinatorial: bool = Field(False, description="Fit every subset of the standards, rank by R-factor.")
    standards: dict[str, ConfigPath] = Field(default_factory=dict, description="Standard name -> file, e.g. "
                                             "Y0: Y0_foil.dat, Y3: Y3_LYC.dat.")
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
