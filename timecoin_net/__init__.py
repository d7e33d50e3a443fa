"""Timecoin networking layer (anyio)."""
