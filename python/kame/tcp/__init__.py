"""TCP (RFC 9293), named and split as FreeBSD's ``sys/netinet/tcp_*.c``:

- :mod:`~kame.tcp.var`: ``struct tcpcb``, states, flags, sequence helpers;
- :mod:`~kame.tcp.subr`: ``tcp_newtcpcb``, ISNs (RFC 6528), ``tcp_respond``,
  ``tcp_close``/``tcp_drop``, the MSS (``tcp_mss``);
- :mod:`~kame.tcp.output`: ``tcp_output``;
- :mod:`~kame.tcp.input`: ``tcp6_input`` (demultiplexing, RSTs for no
  connection) and ``tcp_input`` (RFC 9293 §3.10.7 event processing,
  RFC 5961, RFC 7323, RFC 6675), ``tcp6_ctlinput``;
- :mod:`~kame.tcp.timer`: rexmt, persist, keep, 2msl, delack;
- :mod:`~kame.tcp.sack`: the sender's scoreboard and ``NextSeg``;
- :mod:`~kame.tcp.syncache`: the bounded SYN queue with SYN cookies;
- :mod:`~kame.tcp.cc`: congestion control (``newreno``, ``cubic``);
- :mod:`~kame.tcp.usrreq`: :class:`~kame.tcp.usrreq.Tcp`, the protocol
  instance of one node (its connection table, timers and the user
  requests the stream sockets of :mod:`kame.socket.stream` make).

The byte paths (segment parse and build, checksums, out-of-order queue,
socket buffers) are in the Rust core (``kame._core.tcp_*``, ``TcpReass``,
``TcpSendBuffer``, ``TcpRecvBuffer``). Like the node, TCP is sans-I/O:
every call takes ``now``; ``Tcp.next_deadline()`` says when its timers fire.

This package imports nothing at load time (:mod:`kame.stats` reads
:mod:`kame.tcp.stat`).
"""
