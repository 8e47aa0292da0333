"""Ground-truth data sets (images, spectra, maps) for sample_data, tests and benchmarks.

Each module ``xsuite.simulate.<kind>`` exposes ``write_dataset(out_dir, *, seed=0, **options) -> dict`` that
writes files like a beamline would plus ``ground_truth.json`` and returns the ground truth
(``gixrd``: GIXRD air-exposure series; ``xrd``: transmission pair + calibrant; ``xanes``; ``xrf``): call it
as ``xs.simulate.gixrd.write_dataset(...)``. Names that exist in one module only are re-exported here.

Every name below is importable from this package (``xs.simulate.NAME`` after ``import xsuite as xs``)
and loaded on first use, so importing the package costs nothing until a function is needed.

:mod:`xsuite.simulate.gixrd` — Simulated GIXRD air-exposure series (the paper's SSRL 11-3 experiment) with ground truth

* ``GI_KINETICS``
* ``GI_SAMPLES``
* ``SAMPLE_DATA_OPTIONS``
* ``gi_geometry`` — GIXRD geometry: beam 10 rows above the bottom edge of the small detector, near its left edge (pyFAI orientation 3: row 0 is the physical bottom), so the rings above the horizon fill it
* ``exit_angle_rad`` — Exit angle β of every pixel above the sample surface (radians; negative = shadowed)
* ``horizon_shadow`` — Pixels below the sample horizon (exit angle < 0, :func:`exit_angle_rad`), True = shadowed
* ``simulate_series`` — Frames of one GIXRD series (pure: nothing written)

:mod:`xsuite.simulate.xrd` — Simulated area-detector powder diffraction: transmission XRD pair + calibrant, and shared rendering

* ``Geometry`` — A pyFAI integrator plus the cached arrays needed to render frames on it (built once)
* ``PeakSet`` — Reflections of one phase with their integrated areas in the 1D pattern
* ``make_geometry`` — Build the pyFAI geometry of a simulated detector
* ``pattern_1d`` — Sum of pseudo-Voigt reflections (windowed to ±40 FWHM) plus a background, on the grid ``q``
* ``render_frame`` — Render a 1D pattern onto the detector and draw Poisson counts
* ``HC_KEV_ANGSTROM``

:mod:`xsuite.simulate.xanes` — Simulated Y K-edge µXANES data with known answers (the paper's Fig. 5g/h experiment)

* ``Y_K_EDGE_EV``
* ``standard_norm`` — Normalised µ(E) model of a standard ('Y0' foil or 'Y3' = Y3+ in LYC) at true energies
* ``energy_grid`` — Recorded energy grid of a µXANES scan: 10 eV pre-edge, 0.5 eV XANES, 3 eV post-edge
* ``simulate_fluorescence`` — µXANES fluorescence scan of a Y0/Y3+ mixture with a 2-element detector and the reference foil
* ``simulate_map_mu`` — Raw µ(E) of many pixels (a XANES map) on one calibrated grid, Gaussian noise of ``noise``·step
* ``VOCABULARIES``
* ``model_norm`` — Normalised XANES model of any edge: arctan step, Gaussian white line, damped EXAFS-like wiggle
* ``model_e0`` — Derivative maximum of :func:`model_norm` on a 0.001 eV grid (the E0 truth)
* ``simulate_edge_scan`` — A raw XANES scan of any absorber with a metal-foil reference, and its truth
* ``write_edge_scan`` — Write a scan from :func:`simulate_edge_scan` with one beamline's column names and header
* ``simulate_xanes_stack`` — A raw fluorescence XANES stack (E, y, x) of a mixture map, as an image-stack beamline records it

:mod:`xsuite.simulate.xrf` — Simulated µXRF maps of a pellet cross-section with (or without) a Cl-rich interphase layer

* ``simulate_map`` — Simulate Y and Cl fluorescence count maps of a pellet cross-section
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=['gixrd', 'xrd', 'xanes', 'xrf'],
    submod_attrs={
        'gixrd': [
            'GI_KINETICS', 'GI_SAMPLES', 'SAMPLE_DATA_OPTIONS', 'gi_geometry', 'exit_angle_rad',
            'horizon_shadow', 'simulate_series'
        ],
        'xrd': [
            'Geometry', 'PeakSet', 'make_geometry', 'pattern_1d', 'render_frame', 'HC_KEV_ANGSTROM'
        ],
        'xanes': [
            'Y_K_EDGE_EV', 'standard_norm', 'energy_grid', 'simulate_fluorescence', 'simulate_map_mu',
            'VOCABULARIES', 'model_norm', 'model_e0', 'simulate_edge_scan', 'write_edge_scan',
            'simulate_xanes_stack'
        ],
        'xrf': [
            'simulate_map'
        ],
    },
)
