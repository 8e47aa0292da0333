"""Ground-truth data sets (images, spectra, maps) for sample_data, tests and benchmarks.

Each module ``xsuite.simulate.<kind>`` exposes ``write_dataset(out_dir, *, seed=0, **options) -> dict`` that
writes files like a beamline would plus ``ground_truth.json`` and returns the ground truth
(``gixrd``: GIXRD air-exposure series; ``xrd``: transmission pair + calibrant; ``xanes``; ``xrf``).
Modules are imported lazily (pyFAI and friends are heavy).
"""
