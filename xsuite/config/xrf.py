"""Config section ``xrf:`` — the µXRF map pipeline (readers, normalisation, segmentation, thickness).

Example (``beamline_configs/ssrl_2-3_xrf.yaml``)::

    xrf:
      layout: xsuite              # files | xsuite | maps_v9 | xrfmaps | larch | pymca
      elements: {reference: Y, layer: Cl}
      pixel_size_um: 1.0
      interface: auto
      samples:
        LYC: {file: ../sample_data/xrf/LYC_xrf.h5}
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator

from xsuite.config.base import ConfigPath, XsuiteModel

__all__ = ["XrfConfig", "XrfSample", "XrfElements", "XrfPaths"]


class XrfElements(XsuiteModel):
    """Which channels are the bulk reference (red) and the layer marker (green).

    Examples
    --------
    >>> from xsuite.config.xrf import XrfElements
    >>> XrfElements()
    XrfElements(reference='Y', layer='Cl')
    >>> XrfElements(reference="Y", layer="Cl").layer
    'Cl'
    """

    reference: str = Field("Y", description="Element present in the bulk and absent from the layer (composite red).")
    layer: str = Field("Cl", description="Element present in the layer, in the bulk or not (composite green).")

    @field_validator("reference", "layer")
    @classmethod
    def _channel_name(cls, v: str) -> str:
        v = v.strip()
        if not v or any(c in v for c in "/\\[]=:"):
            raise ValueError(f"element {v!r} must be a channel name such as Fe, S or Pt_L")
        return v


class XrfPaths(XsuiteModel):
    """Dataset paths inside beamline HDF5 map files; ``None`` keeps the preset of ``layout``.

    Examples
    --------
    >>> from xsuite.config.xrf import XrfPaths
    >>> p = XrfPaths(element_path="/xrf/{element}", position_units="um")
    >>> p.element_path.format(element="Cl"), p.stack_path
    ('/xrf/Cl', None)
    """

    element_path: Optional[str] = Field(None, description="Template with {element}, e.g. /xrf/{element}.")
    stack_path: Optional[str] = Field(None, description="A stack of maps, e.g. /MAPS/XRF_fits.")
    names_path: Optional[str] = Field(None, description="Channel names of the stack.")
    channel_axis: Optional[int] = Field(None, description="Axis of the channel in the stack.")
    i0_path: Optional[str] = Field(None, description="Incident-beam monitor map.")
    i0_channel: Optional[str] = Field(None, description="Scaler name when i0_path is a scaler stack.")
    i0_names_path: Optional[str] = Field(None, description="Scaler names of the i0_path stack.")
    x_path: Optional[str] = Field(None, description="Fast-axis positions.")
    y_path: Optional[str] = Field(None, description="Slow-axis positions.")
    position_units: Optional[Literal["um", "mm", "nm", "m"]] = Field(None, description="Units of positions.")
    icr_path: Optional[str] = Field(None, description="Detector input counts (dead time), (n_det,) ny, nx.")
    ocr_path: Optional[str] = Field(None, description="Detector output counts (dead time).")
    dwell_path: Optional[str] = Field(None, description="Dwell/live time map, s.")


class XrfSample(XsuiteModel):
    """One map to analyse: a beamline file (with ``layout``) or one file/dataset per element.

    Examples
    --------
    >>> from xsuite.config.xrf import XrfSample
    >>> s = XrfSample(maps={"Y": "y.tif", "Cl": "cl.tif"}, pixel_size_um=2.0)
    >>> sorted(s.maps), s.pixel_size_um, s.interface
    (['Cl', 'Y'], 2.0, None)
    """

    file: Optional[ConfigPath] = Field(None, description="Beamline map file read with `layout`.")
    maps: dict[str, str] = Field(default_factory=dict,
                                 description="element -> file or file.h5::/dataset (layout 'files').")
    i0: Optional[str] = Field(None, description="I0 map: file or file.h5::/dataset.")
    pixel_size_um: Optional[float] = Field(None, gt=0, description="Overrides the section value.")
    interface: Optional[Literal["auto", "left", "right", "top", "bottom"]] = Field(
        None, description="Overrides the section value.")
    spots: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="XANES spot positions drawn on the composite: name -> [x_um, y_um] "
        "in the map's coordinates (e.g. L1: [120.0, 45.5]).")


class XrfConfig(XsuiteModel):
    """Settings of the µXRF pipeline (``xsuite xrf``).

    Examples
    --------
    >>> from xsuite.config.xrf import XrfConfig
    >>> cfg = XrfConfig(samples={"LYC": {"maps": {"Y": "y.tif", "Cl": "cl.tif"}}}, pixel_size_um=2.0)
    >>> cfg.layout, list(cfg.samples), cfg.elements.layer, cfg.k_mad
    ('files', ['LYC'], 'Cl', 5.0)
    """

    layout: Literal["files", "xsuite", "maps_v9", "xrfmaps", "larch", "pymca", "raw"] = Field(
        "files", description="How maps are stored: one file per element, a beamline HDF5 layout, or raw "
        "per-pixel spectra (MDA, XRF-Maps MAPS_RAW).")
    paths: XrfPaths = Field(default_factory=XrfPaths, description="Dataset paths overriding the preset.")
    elements: XrfElements = Field(default_factory=XrfElements, description="Reference and layer elements.")
    samples: dict[str, XrfSample] = Field(default_factory=dict, description="Maps to analyse, by sample name.")
    pixel_size_um: Optional[float] = Field(None, gt=0, description="Scan step, µm (else from the file).")
    interface: Literal["auto", "left", "right", "top", "bottom"] = Field(
        "auto", description="Map side facing the Li electrode (top = first row) or auto-detection.")
    dwell_s: Optional[float] = Field(None, gt=0, description="Dwell time per pixel, s (else from the file).")
    normalise_i0: bool = Field(True, description="Divide by I0 / median(I0) when an I0 map is available.")
    dead_time: bool = Field(True, description="Apply icr/ocr dead-time correction when rates are available.")
    maps_v9_scaler: Literal["SRcurrent", "us_ic", "ds_ic"] = Field(
        "ds_ic", description="MAPS v9: scaler used for quantification to µg/cm².")
    maps_v9_quantify: bool = Field(True, description="MAPS v9: convert fitted counts to µg/cm².")
    maps_only: bool = Field(False, description="Export quantified / I0-normalised maps without a layer analysis.")
    export_elements: list[str] = Field(default_factory=list,
                                       description="Maps to export with maps_only (default: every element channel).")
    monitor: Optional[str] = Field(None, description="Raw spectra: scaler used as I0 (ds_ic, us_ic, SRcurrent; "
                                   "default ds_ic when the file has it).")
    energy_calibration_ev: Optional[tuple[float, float]] = Field(
        None, description="Raw spectra: [offset, slope] in eV (E = offset + slope * channel) used as the start "
        "of the calibration on the data.")
    calibration_file: Optional[ConfigPath] = Field(
        None, description="Raw spectra: a MAPS maps_fit_parameters_override.txt giving the energy scale.")
    calibrate_on_data: bool = Field(True, description="Raw spectra: refine the energy scale on the summed spectrum.")
    roi_width_fwhm: float = Field(1.0, gt=0, le=3, description="Raw spectra: ROI half-width in detector FWHMs.")
    layer_level: Optional[float] = Field(
        None, gt=0, description="Level of the layer element in the layer relative to its bulk level (1 = same); "
        "default: fitted, or 1 for layers too thin to tell.")
    smooth_sigma_px: float = Field(1.0, ge=0, le=5, description="Gaussian smoothing before analysis, px.")
    k_mad: float = Field(5.0, gt=0, description="Segmentation threshold: bulk + k·1.4826·MAD of the ratio.")
    min_excess: float = Field(0.3, ge=0, description="Minimum relative ratio excess of the threshold.")
    z_min: float = Field(5.0, gt=0, description="Significance needed to report a layer.")
    min_coverage: float = Field(0.2, ge=0, le=1, description="Fraction of the interface the layer must touch.")
    max_thickness_um: float = Field(60.0, gt=0, description="Longest layer searched, µm.")
    along_px: int = Field(5, ge=1, le=51, description="Neighbouring profiles averaged per local thickness.")

    @field_validator("samples")
    @classmethod
    def _names_ok(cls, v: dict[str, XrfSample]) -> dict[str, XrfSample]:
        for name in v:
            if not name or any(c in name for c in "/\\"):
                raise ValueError(f"sample name {name!r} must be non-empty without slashes")
        return v
