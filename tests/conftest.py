"""Shared test setup: hypothesis profiles chosen by KAME_HYPOTHESIS
(`fast` by default, `thorough` for long local runs)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fast", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("KAME_HYPOTHESIS", "fast"))
