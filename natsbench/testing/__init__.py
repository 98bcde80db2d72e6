"""Helpers for tests and benchmarks (fixture generators). Not imported by the library."""
