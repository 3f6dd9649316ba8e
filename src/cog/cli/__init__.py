"""cli component of pycog."""
