"""`kame`: one command, BSD-style subcommands.

    kame demo [-w FILE]          a router and two hosts: DAD, SLAAC, ND, ping6, traced
    kame dissect [FILE]          tcpdump-like dissection (pcap or pcapng) with verdicts
    kame node --tap IFNAME       run a node on a TAP device, with a control socket
    kame ndp -a|-p|-r|-i IF      the node's neighbor cache, prefixes, routers, ND parameters
    kame ping6 [-c N] DST        echo requests from the node
    kame netstat -an             the node's TCP and UDP sockets, with TCP states
    kame netstat -s [-p PROTO]   the node's counters (tcp udp ip icmp igmp arp ipsec ip6 icmp6 ipsec6 mip6 nat64)
    kame arp -an                 the node's ARP cache
    kame mip6 [-c|-u]            Mobile IPv6 roles, binding cache, binding update list
    kame iperf3 -s | -c HOST     iperf3 server or client on a running node
    kame ifconfig [IF [WORD...]] the node's interfaces; create and configure gif/stf
    kame gifconfig IF SRC DST    a gif tunnel's outer addresses (like KAME's gifconfig)
    kame faithd --prefix P ...   the FAITH IPv6-to-IPv4 TCP relay on TAP devices
    kame nat64 --prefix P ...    the NAT64 translator (RFC 6146/7915) on TAP devices
    kame setkey -f FILE | -c | -D[P] SAD/SPD configuration (like setkey(8))
    kame tcp connect HOST PORT | listen PORT  a TCP connection through a node (nc-like)
    kame difftest [-n N] [-w DIR]  generated packets to the Linux kernel and our node, compared
    kame dhcp6c -c CONF --tap IF  DHCPv6 client (WIDE dhcp6c.conf) on a node on TAP devices
    kame dhcp6s -c CONF --tap IF  DHCPv6 server (WIDE dhcp6s.conf) on a node on a TAP device
    kame dhcp6ctl -s SOCK reconfigure DUID   send a client a Reconfigure through a running dhcp6s
    kame racoon -f CONF --tap IF  IKEv2 key management (racoon.conf) on a node on a TAP device
    kame altqstat [-i IF] [-c N]  ALTQ per-class counters of a running node (altqstat(1))
    kame altq load FILE | disable IF  altq.conf(5) onto a running node (as altqd)

Exit status: 0 done; 1 the command failed (one line on standard error says
why); 2 a usage error (likewise), or `ping6` heard no reply.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["main"]

#: Exit status for a bug in kame itself (sysexits.h EX_SOFTWARE).
EX_SOFTWARE = 70


def _version() -> str:
    import kame

    return f"kame {kame.__version__} (distribution kame6, Python {sys.version.split()[0]})"


def _os_error(e: OSError) -> str:
    """``[Errno 2] No such file or directory: 'x'`` as ``x: No such file or directory``."""
    what = e.strerror or str(e)
    if e.filename is not None:
        return f"{e.filename}: {what}"
    return what


def _main(argv: list[str] | None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == ["dissect"]:
        # ``kame dissect`` reads its words without argparse when it can:
        # a small capture is dissected in less time than argparse, the
        # node's modules or the exception tree take to import.
        from kame.cli import dissect

        fast = dissect.parse_words(words[1:])
        if fast is not None:
            return _call("dissect", fast.func, fast)

    import argparse

    from kame.cli.args import ArgumentParser

    doc = __doc__ or ""
    ap = ArgumentParser(prog="kame", description=doc.split("\n\n")[0],
                        epilog=doc.split("\n\n", 1)[1],
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=_version())
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    from kame.cli import dissect

    if words[:1] == ["dissect"]:
        # Only what dissect needs: importing the node's modules for the
        # other commands would cost more than a small capture's dissection.
        dissect.add_parser(sub)
    else:
        from kame.cli import altq, demo, dhcp6c, dhcp6s, faithd, iperf3, nat64, node, tools
        from kame.cli import difftest as difftest_cli
        from kame.cli import racoon as racoon_cli
        from kame.cli import setkey as setkey_cli
        from kame.cli import tcp as tcp_cli

        demo.add_parser(sub)
        dissect.add_parser(sub)
        node.add_parser(sub)
        tools.add_parsers(sub)
        altq.add_parsers(sub)
        iperf3.add_parser(sub)
        setkey_cli.add_parser(sub)
        tcp_cli.add_parser(sub)
        difftest_cli.add_parser(sub)
        dhcp6c.add_parser(sub)
        dhcp6s.add_parser(sub)
        racoon_cli.add_parser(sub)
        faithd.add_parser(sub)
        nat64.add_parser(sub)

    args = ap.parse_args(argv)
    if args.command != "dissect":
        import kame.ctl  # noqa: F401 - its ControlError is a failure of the command
    return _call(args.command, args.func, args)


def _call(command: str, func: Callable[[Any], int | None], args: Any) -> int:
    """Run a command; an exception becomes one line on standard error and
    an exit status. The exception classes are looked up where they were
    loaded (a class that was never imported was never raised)."""
    try:
        return int(func(args) or 0)
    except BrokenPipeError:  # `kame dissect | head`
        sys.stderr.close()
        return 0
    except Exception as e:  # noqa: BLE001 - every failure: one line and a status
        return _failure(command, e)


def _failure(command: str, e: Exception) -> int:
    from kame.cli.args import one_line

    def fail(text: str, status: int = 1) -> int:
        sys.stderr.write(f"kame {command}: {one_line(text)}\n")
        return status

    def loaded(module: str, name: str) -> tuple[type[BaseException], ...]:
        mod = sys.modules.get(module)
        return (getattr(mod, name),) if mod is not None else ()

    if isinstance(e, loaded("kame.cli.args", "UsageError")):
        return fail(f"{e} (see kame {command} --help)", 2)
    if isinstance(e, (*loaded("kame.ctl", "ControlError"), *loaded("kame.errors", "KameError"),
                      ValueError)):
        return fail(str(e) or type(e).__name__)
    if isinstance(e, OSError):
        return fail(_os_error(e))
    if isinstance(e, RecursionError):
        return fail(f"input nested too deeply ({e})")
    # a bug in kame: still one line, and a status saying so
    return fail(f"internal error: {type(e).__name__}: {e} (please report this)", EX_SOFTWARE)


def main(argv: list[str] | None = None) -> int:
    """Run ``kame`` with ``argv`` (default ``sys.argv[1:]``) and return the
    exit status; nothing escapes, not even argparse's ``SystemExit``."""
    try:
        return _main(argv)
    except SystemExit as e:  # --help, --version, a usage error
        code = e.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        sys.stderr.write(f"{code}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130


def script() -> None:
    """The ``kame`` console script: :func:`main` on ``sys.argv``, then exit
    with its status. ``kame dissect`` ends the process at once once its
    output is flushed and the exit functions have run (``os._exit``): the
    interpreter's teardown (a full garbage collection, every module and
    code object freed) would cost a small capture's dissection; its files
    are closed already."""
    words = sys.argv[1:2]
    status = main()
    if words != ["dissect"]:
        sys.exit(status)
    import atexit
    import os

    atexit._run_exitfuncs()
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):  # closed, or the reader is gone (`| head`)
            pass
    os._exit(status)


if __name__ == "__main__":
    script()
