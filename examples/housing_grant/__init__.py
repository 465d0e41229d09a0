"""A demo agency app that pre-fills its form from Consentry."""
