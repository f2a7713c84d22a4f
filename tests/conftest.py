"""Shared test setup: hypothesis profiles chosen by KAME_HYPOTHESIS:
`fast` (the default, what `make test` and CI run) draws the same examples on
every run, so CI is reproducible; `thorough` draws 5000 fresh random
examples per property, for bug hunting (`KAME_HYPOTHESIS=thorough make test-py`)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fast", max_examples=200, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("KAME_HYPOTHESIS", "fast"))
