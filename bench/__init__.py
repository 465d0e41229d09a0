"""Benchmarks: `python -m bench` runs them all and prints one table (see bench/README.md).

Not tests: nothing here is timed by pytest. Each benchmark builds its own fresh database with the
migrations, starts its own simulated agencies on a free loopback port, and runs bounded loops.
"""
