"""Benchmarks (not tests): each prints its figures and a ratio against a limit; see bench/README.md."""
