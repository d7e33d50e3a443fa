"""Shared pytest configuration: pytester runs the plugin's own example tests."""

pytest_plugins = ("pytester",)
