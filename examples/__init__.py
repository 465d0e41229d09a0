"""Examples for agency integrators: a MyInfo v4 client and a demo agency app built on it."""
