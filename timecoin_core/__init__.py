"""Timecoin core."""
