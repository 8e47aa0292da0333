"""Diffraction series: one setup, one reducer, one writer and one session for every mode (batch, workers, Dask, watch)."""
