"""XANES science: µ(E) from detector channels, calibration, merging, normalisation, LCF.

Pure functions on numpy arrays (no file I/O): the readers are in :mod:`xsuite.io.spectra`, the wiring in
:mod:`xsuite.pipelines.xanes`. The functions ``calibrate`` and ``normalize`` share their module's name, so
``xs.xanes.calibrate`` and ``xs.xanes.normalize`` are the modules: call ``xs.xanes.calibrate.calibrate(...)`` and
``xs.xanes.normalize.normalize(...)`` (once a module is imported Python binds its name on the package).

Every name below is importable from this package (``xs.xanes.NAME`` after ``import xsuite as xs``)
and loaded on first use, so importing the package costs nothing until a function is needed.

:mod:`xsuite.xanes.mu` — µ(E) from detector channels: transmission, fluorescence (dead-time corrected) and reference

* ``mu_transmission`` — Transmission µ(E)·t = ln(I0 / I1)
* ``mu_reference`` — Reference-foil µ(E)·t = ln(I1 / I2) (foil between the second and third ion chambers)
* ``mu_fluorescence`` — Fluorescence µ(E) ∝ Σ_k ROI_k · DT_k / I0 with DT_k = ICR_k/OCR_k
* ``deadtime_factor`` — Multiplicative dead-time correction of ROI counts

:mod:`xsuite.xanes.edge` — Where the edge is: E0 of a spectrum, checks that the expected edge is there, and tabulated edges

* ``E0_DEFINITION``
* ``EdgeLocation`` — An edge found in a spectrum
* ``NoEdgeError`` — The expected absorption edge is not in the spectrum (message says where the scan's edge is)
* ``tabulated_edge_ev`` — Tabulated absorption-edge energy from xraydb
* ``guess_edge`` — The tabulated K or L edge nearest to an energy (xraydb ``guess_edge``)
* ``derivative_e0`` — Energy and index of the derivative maximum (:data:`E0_DEFINITION`)
* ``locate_edge`` — Find the absorption edge, checking that the expected one is there

:mod:`xsuite.xanes.calibrate` — Energy calibration against a reference foil, merging of repeated scans, deglitching, noise

* ``CalibrationResult`` — Outcome of calibrating one scan with its reference channel
* ``MergeResult`` — Repeated scans merged on one grid
* ``find_edge_energy`` — Edge energy as the maximum of the first derivative of the smoothed spectrum
* ``merge_scans`` — Merge repeated scans onto one grid with a per-point error estimate
* ``deglitch`` — Replace single-point outliers (glitches) by the cubic interpolation of their neighbours
* ``Glitch`` — One point changed by :func:`deglitch` (recorded and reported, never silent)
* ``estimate_noise`` — High-frequency noise estimate σ per point (constant over the spectrum)
* ``local_noise`` — Point-by-point white-noise σ of a spectrum, robust and local

:mod:`xsuite.xanes.normalize` — XANES normalisation: larch ``pre_edge`` for single spectra, a vectorised twin for maps

* ``NormalizationResult`` — Normalised µ(E) of one spectrum and the parameters that produced it
* ``BatchNormalization`` — Normalised spectra of a batch (shared energy grid)
* ``normalize_batch`` — Vectorised larch-equivalent normalisation of many spectra on one energy grid
* ``find_e0_batch`` — Edge energies of many spectra on one grid: maximum of the smoothed first derivative
* ``half_height_energy`` — Energy where ``norm`` crosses ``level`` on the rising edge closest to ``e0_ev``
* ``normalization_modes`` — Independent 1σ perturbations of the normalised spectrum caused by noise in the edge-step fits
* ``default_windows`` — Pre/post-edge windows (relative to E0, larch names) that suit both EXAFS-length and XANES-only scans

:mod:`xsuite.xanes.lcf` — Linear combination fitting (LCF) of normalised XANES spectra

* ``LCFResult`` — LCF of one spectrum: values, standard errors, statistics, and the curves
* ``BatchLCFResult`` — LCF results of n spectra against k standards (no energy shifts)
* ``CombinatorialResult`` — Every subset of the standards fitted, ranked by R-factor (best first)
* ``CombinationFit`` — One subset of a library fitted (noise-term errors), as listed by :func:`rank_combinations`
* ``rank_combinations`` — Fit every subset of a library of standards and rank the fits by R-factor (Athena's combinatorics)
* ``ranked`` — Fits sorted by R-factor (Athena's order) with ``rank`` and the F-test ``p_value`` against the lowest-R fit
* ``select_combination`` — The smallest subset not significantly worse than the lowest-R fit (``p_value ≥ alpha``), lowest R among equals — more standards always lower R a little, so R alone would always pick the largest set
* ``unit_step_fractions`` — Weights of standards renormalised with the data's windows -> fractions in the standards' own unit-step normalisation, fᵢ = (wᵢ/sᵢ)/Σ(wⱼ/sⱼ) (without sum-to-one: wᵢ/sᵢ), and the factor that scales their errors
* ``solve_lcf_batch`` — Exact constrained linear LCF of many spectra at once
* ``fit_lcf`` — Fit one normalised spectrum as a non-negative combination of standards
* ``LcfOptions`` — How :func:`fit_lcf` fits: the window, the constraints, shifts, bootstrap, the misfit term
* ``LcfErrorSources`` — Error sources beyond the point noise that :func:`fit_lcf` propagates into ``fraction_errors``
* ``fit_lcf_combinations`` — Fit every non-empty subset of ``standards`` and rank the fits by R-factor
* ``fit_window`` — Mask of the points with E0 + xmin ≤ E ≤ E0 + xmax
* ``fit_lcf_map`` — Normalise and fit a whole XANES map (raw µ on one energy grid) in a few array operations

:mod:`xsuite.xanes.maps` — Per-pixel chemical maps from a raw XANES image stack: normalisation and LCF of every pixel at once

* ``ChemicalMap`` — Result of :func:`fit_chemical_map` (maps are (y, x); per-component maps (k, y, x))
* ``NormWindows`` — Normalisation windows actually used (relative to E0, larch names) and the grid indices
* ``fit_chemical_map`` — Normalise and fit every pixel of a raw XANES stack
* ``map_windows`` — Pre/post-edge windows on a (short) stack energy grid, with larch's defaults and index rules
* ``normalized_pixels`` — Normalised spectra (n, m) of the selected pixels (``pixels`` a (y, x) mask), as the map fit saw them
* ``pixel_noise`` — White-noise σ of every row of ``mu`` (n, m): 1.4826 × median |second difference| / √6 (the second difference of a smooth spectrum is ~0, of white noise N(0, 6σ²); the median ignores the edge)
* ``rank_summed_spectrum`` — Rank every subset of a library for one raw spectrum on a stack grid (e.g
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=['mu', 'edge', 'calibrate', 'normalize', 'lcf', 'maps'],
    submod_attrs={
        'mu': [
            'mu_transmission', 'mu_reference', 'mu_fluorescence', 'deadtime_factor'
        ],
        'edge': [
            'E0_DEFINITION', 'EdgeLocation', 'NoEdgeError', 'tabulated_edge_ev', 'guess_edge',
            'derivative_e0', 'locate_edge'
        ],
        'calibrate': [
            'CalibrationResult', 'MergeResult', 'find_edge_energy', 'merge_scans', 'deglitch', 'Glitch',
            'estimate_noise', 'local_noise'
        ],
        'normalize': [
            'NormalizationResult', 'BatchNormalization', 'normalize_batch', 'find_e0_batch',
            'half_height_energy', 'normalization_modes', 'default_windows'
        ],
        'lcf': [
            'LCFResult', 'BatchLCFResult', 'CombinatorialResult', 'CombinationFit', 'rank_combinations',
            'ranked', 'select_combination', 'unit_step_fractions', 'solve_lcf_batch', 'fit_lcf',
            'LcfOptions', 'LcfErrorSources', 'fit_lcf_combinations', 'fit_window', 'fit_lcf_map'
        ],
        'maps': [
            'ChemicalMap', 'NormWindows', 'fit_chemical_map', 'map_windows', 'normalized_pixels',
            'pixel_noise', 'rank_summed_spectrum'
        ],
    },
)
