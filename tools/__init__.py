"""Tooling around the product: the CodeBuild rehearsal, the AWS checks and the benchmarks.

Nothing in ``ml/`` or the container imports from here (docs/architecture.md); this package may import ``ml``.
"""
