"""µXRF science: ROI maps, pellet/interface segmentation, interphase-layer thickness.

Pure functions on numpy arrays (no file I/O): the readers are in :mod:`xsuite.io.maps`, the wiring in
:mod:`xsuite.pipelines.xrf`.

Every name below is importable from this package (``xs.xrf.NAME`` after ``import xsuite as xs``)
and loaded on first use, so importing the package costs nothing until a function is needed.

:mod:`xsuite.xrf.roi` — Element maps from per-pixel fluorescence spectra: energy calibration on the data and ROI sums

* ``line_energy_ev`` — Energy (eV) of the main line of a map channel: ``Fe`` = Kα, ``Pt_L`` = Lα, ``Pb_M`` = Mα
* ``detector_fwhm_ev`` — Energy resolution of a Si drift detector: ``sqrt(fwhm0² + 2.3548² · F·ε · E)`` (eV)
* ``EnergyCalibration`` — ``E = offset + slope · channel + quad · channel²`` (eV), how it was obtained and from which peaks
* ``calibrate_energy`` — Fit the energy scale of a summed spectrum through the lines of ``channels``, starting from ``guess``
* ``RoiMaps`` — ROI counts per channel: maps ``(ny, nx)`` and the energy window (eV) each sums
* ``roi_maps`` — Counts in ``line ± width_fwhm · FWHM(line)`` of each channel, per pixel

:mod:`xsuite.xrf.segment` — Normalisation, pellet mask, interface side, segmentation of the layer and element objects in µXRF maps

* ``SIDES``
* ``to_canonical`` — Return a view of ``a`` with the ``side`` edge moved to the left (column 0)
* ``from_canonical`` — Inverse of :func:`to_canonical`
* ``normalise_counts`` — Dead-time correct and normalise a fluorescence map by I0 and dwell time
* ``PelletLevels`` — Background and bulk levels of one element map (robust medians)
* ``pellet_levels`` — Background and bulk level of an element map from an Otsu split of its smoothed values
* ``ElementLevels`` — Background and unit levels of the reference and the layer element (see :func:`element_levels`)
* ``element_levels`` — Levels of both maps: the reference from an Otsu split, the layer element from the reference's bulk
* ``pellet_mask`` — The pellet: where either smoothed map reaches ``level`` of its unit; largest component, holes filled
* ``detect_interface_side`` — Find the map side facing the Li electrode
* ``ratio_map`` — Cl/Y ratio of smoothed, background-subtracted maps, normalised to its bulk median
* ``segment_layer`` — Segment the layer: robust threshold on the normalised ratio + morphology + connectivity
* ``Segmentation`` — Result of :func:`segment_layer`
* ``fill_holes`` — Fill holes of a binary mask: background components not touching the map border
* ``ElementObjects`` — Otsu segmentation of one element map: threshold, labels and the objects, largest first
* ``element_objects`` — Where an element is: pixels above the Otsu threshold of its map, split in 4-connected objects
* ``map_correlation`` — Pearson correlation of element maps over all pixels (co-location of elements)

:mod:`xsuite.xrf.thickness` — Thickness of the layer along the local interface normal

* ``InterfaceCurve`` — Interface in the canonical frame: one point per row
* ``interface_curve`` — Locate the interface (outer pellet edge on the left) with sub-pixel precision
* ``normal_profiles`` — Sample images along the interface normals
* ``EdgeFit`` — Joint error-function fit of the averaged Cl and Y normal profiles (pixel units)
* ``fit_edges`` — Fit the averaged layer-element and reference normal profiles with shared erf edges (lmfit)
* ``integral_thickness`` — Layer thickness per interface point from the excess of the layer element over the reference
* ``profile_levels`` — Local bulk level of each normal profile: mean over ``[s_max, s_max + plateau]``, median-filtered along the interface over ``level_rows`` points
* ``block_sem`` — Standard error of the mean of serially correlated values by block averaging
* ``serial_sem`` — Standard error of the mean of correlated values from their measured autocorrelation
* ``SerialSem`` — Standard error of the mean of a serially correlated series
* ``grid_phase_coherence`` — How aligned an interface is with the pixel grid: ``|mean(exp(2 pi i col))|`` over its points
* ``processing_tau`` — Integrated autocorrelation time (rows) that the processing alone gives white per-row noise
* ``mean_thickness_error`` — Total standard error (pixels) of the mean local thickness and its statistical part
* ``edge_fit_error`` — Total standard error (pixels) of the edge-fit thickness: fit error and systematics in quadrature
* ``MEAN_SYSTEMATIC_PX``
* ``EDGE_GEOMETRY_PX``
* ``pixelation_px`` — Pixel-sampling (aliasing) error of an edge position, pixels
* ``edge_systematic_px`` — Systematic error (pixels) of the edge-fit thickness: model/geometry floor and pixelation in quadrature

:mod:`xsuite.xrf.analysis` — One call from a normalised reference/layer map pair to the layer, its thickness and the figures' arrays

* ``LayerStats`` — Headline numbers of one map (µm unless stated); NaN where not applicable
* ``XrfMapOptions`` — Tuning of :func:`analyse_xrf_map` (the config section ``xrf:`` has the same names)
* ``XrfMapResult`` — Everything the µXRF analysis of one map produces (see docs/layout_xrf.md)
* ``analyse_xrf_map`` — Segment the layer at the Li interface of a reference/layer map pair and measure its thickness
* ``composite_rgb`` — Reference-red / layer-green composite (uint8 RGB), each channel scaled linearly between limits
* ``smoothing_variance_factor`` — Fraction of the pixel noise variance a 2-D Gaussian smoothing keeps: ``(sum w²)²`` of its 1-D taps
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=['roi', 'segment', 'thickness', 'analysis'],
    submod_attrs={
        'roi': [
            'line_energy_ev', 'detector_fwhm_ev', 'EnergyCalibration', 'calibrate_energy', 'RoiMaps',
            'roi_maps'
        ],
        'segment': [
            'SIDES', 'to_canonical', 'from_canonical', 'normalise_counts', 'PelletLevels', 'pellet_levels',
            'ElementLevels', 'element_levels', 'pellet_mask', 'detect_interface_side', 'ratio_map',
            'segment_layer', 'Segmentation', 'fill_holes', 'ElementObjects', 'element_objects',
            'map_correlation'
        ],
        'thickness': [
            'InterfaceCurve', 'interface_curve', 'normal_profiles', 'EdgeFit', 'fit_edges',
            'integral_thickness', 'profile_levels', 'block_sem', 'serial_sem', 'SerialSem',
            'grid_phase_coherence', 'processing_tau', 'mean_thickness_error', 'edge_fit_error',
            'MEAN_SYSTEMATIC_PX', 'EDGE_GEOMETRY_PX', 'pixelation_px', 'edge_systematic_px'
        ],
        'analysis': [
            'LayerStats', 'XrfMapOptions', 'XrfMapResult', 'analyse_xrf_map', 'composite_rgb',
            'smoothing_variance_factor'
        ],
    },
)
