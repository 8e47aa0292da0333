"""XANES science: µ(E) from detector channels, calibration, merging, normalisation, LCF.

Pure functions on numpy arrays (no file I/O): the readers are in :mod:`xsuite.io.spectra`, the wiring in
:mod:`xsuite.pipelines.xanes`.

* :mod:`xsuite.xanes.mu` — transmission ln(I0/I1), fluorescence Σ ROI·ICR/OCR / I0, reference ln(I1/I2)
* :mod:`xsuite.xanes.calibrate` — reference-foil E0 (derivative maximum) aligned to xraydb; merge; deglitch
* :mod:`xsuite.xanes.normalize` — larch ``pre_edge`` wrapper and a vectorised twin for maps
* :mod:`xsuite.xanes.lcf` — exact non-negative (sum-to-one) LCF, vectorised over spectra; shifts, bootstrap,
  combinatorial fits
"""
