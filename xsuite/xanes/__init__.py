"""xanes package."""
