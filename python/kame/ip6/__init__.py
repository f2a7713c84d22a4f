"""The IPv6 layer of the node, one module per BSD source file:
:mod:`~kame.ip6.input` (``ip6_input.c``, ``frag6.c``),
:mod:`~kame.ip6.output` (``ip6_output.c``, ``nd6_output``, ``in6_src.c``),
:mod:`~kame.ip6.forward` (``ip6_forward.c``), :mod:`~kame.ip6.icmp6`
(``icmp6.c``), :mod:`~kame.ip6.route` (``rtalloc``), over the state in
:mod:`~kame.ip6.var`. :class:`kame.node.Node` composes them.
"""
