"""Loaders for third-party data files used by tests and benchmarks (never shipped with the project)."""
