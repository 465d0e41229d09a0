"""MyInfo v4 wire profile."""
