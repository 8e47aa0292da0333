"""diffraction package."""
