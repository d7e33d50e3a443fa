"""Timecoin benchmarks: ``python -m benchmarks [NAME ...]`` (``make bench``)."""
