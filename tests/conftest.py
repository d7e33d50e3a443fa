"""Shared pytest configuration: pytester for the plugin's own tests, hypothesis profiles.

Profiles (pick one with ``HYPOTHESIS_PROFILE``):

* ``dev`` — few examples, for a quick local loop (``make test-fast`` uses it);
* ``ci`` — hypothesis's usual example counts, derandomized so a CI failure replays
  exactly, with the reproduction blob printed; chosen by default when ``CI`` is set;
* otherwise hypothesis's own default profile.

Tests with their own ``@settings(max_examples=...)`` keep that count in every profile.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ("pytester",)

settings.register_profile("dev", max_examples=20, deadline=None)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)

_profile = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else None)
if _profile is not None:
    settings.load_profile(_profile)
