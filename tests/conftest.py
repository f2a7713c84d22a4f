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


if os.environ.get("KAME_GATE_CHECK", "1") != "0":
    # on unless KAME_GATE_CHECK=0: every poll the node's next-deadline gate
    # lets return at once is checked against each timer owner's own
    # deadline (a timer armed without lowering the gate fails the test
    # that armed it)
    from kame.node import Node

    _poll = Node.poll

    def _checked_poll(self, now):  # type: ignore[no-untyped-def]
        t = self._time(now) if type(now) is not float else now
        if t < self.gate.due and \
                (self.knobs.gen, self.addrs.gen, self._ifgen) == self._mldr_synced:
            inet = self.inet
            owners = {
                "nd6 cache": self.cache.next_deadline(), "dad": self.nbr.next_deadline(),
                "nd6 rtr": self.rtr._compute_deadline(), "mld": self.mld.next_deadline(),
                "frag6": self.reass.next_deadline(), "pmtu": self._pmtu_deadline(),
                "arp": inet.arp_deadline, "ip reass": inet.reass.next_deadline(),
                "ip pmtu": min((e[1] for e in inet.pmtu.values()), default=None),
                "igmp": inet.igmp_next_deadline(), "ip redirects": inet.rt_next_expire(),
                "tcp": self.tcp.next_deadline(),
                "mip6": self.mip6.next_deadline()
                if self._mip6_bc or self.mip6.ha or self.mip6.mn else None,
                "mld querier": self.mldr.next_deadline(), "igmp querier": inet.igmpr.next_deadline(),
                "sa lifetimes": self.key.next_deadline() if self.key is not None else None,
            }
            late = {k: v for k, v in owners.items() if v is not None and v <= t}
            assert not late, f"poll({t}) gated until {self.gate.due}, but due: {late}"
        return _poll(self, now)

    Node.poll = _checked_poll  # type: ignore[method-assign]
