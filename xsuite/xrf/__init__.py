"""xrf package."""
