"""Benchmarks behind ``invoke bench``: each writes its table under docs/benchmarks/."""
