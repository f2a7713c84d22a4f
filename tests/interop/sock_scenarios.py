"""Socket scenarios run twice: on kame.socket's ``linux`` profile and on the
host kernel's own sockets (``python sock_scenarios.py`` prints the kernel's
outcomes as JSON; run it inside a fresh network namespace).

A scenario is a list of steps over named sockets; each step's outcome is
recorded (``"ok"``, an errno name, or the value returned), ephemeral ports
replaced by ``"eph"`` since the two pick them differently.
"""

from __future__ import annotations

import errno
import json
import select
import socket
import struct
import sys
from typing import Any

A4, A6 = socket.AF_INET, socket.AF_INET6
PORT, PORT2 = 7001, 7002

# Local bind kinds: (family, v6only, address).
KINDS: dict[str, tuple[int, int, str]] = {
    "v4any": (A4, 0, "0.0.0.0"),
    "v4lo": (A4, 0, "127.0.0.1"),
    "v6any": (A6, 0, "::"),
    "v6any-only": (A6, 1, "::"),
    "v6lo": (A6, 0, "::1"),
    "v6lo-only": (A6, 1, "::1"),
    "map-lo": (A6, 0, "::ffff:127.0.0.1"),
    "map-lo-only": (A6, 1, "::ffff:127.0.0.1"),
    "map-any": (A6, 0, "::ffff:0.0.0.0"),
}
REUSE = ("none", "addr", "port", "second-addr")


def _mk(name: str, kind: str, reuse: str, second: bool) -> list[list[Any]]:
    fam, only, _ = KINDS[kind]
    st: list[list[Any]] = [["sock", name, fam]]
    if fam == A6:
        st.append(["opt", name, "v6only", only])
    if reuse == "addr" or (reuse == "second-addr" and second):
        st.append(["opt", name, "reuseaddr", 1])
    if reuse == "port":
        st.append(["opt", name, "reuseport", 1])
    return st


def bind_scenarios() -> dict[str, list[list[Any]]]:
    out: dict[str, list[list[Any]]] = {}
    for k1 in KINDS:
        for k2 in KINDS:
            for r in REUSE:
                st = _mk("a", k1, r, False) + [["bind", "a", KINDS[k1][2], PORT]]
                st += _mk("b", k2, r, True) + [["bind", "b", KINDS[k2][2], PORT]]
                out[f"bind {k1} then {k2} reuse={r}"] = st
    return out


SENDERS = {"from-v4": (A4, "127.0.0.1"), "from-v6": (A6, "::1"),
           "from-map": (A6, "::ffff:127.0.0.1")}


def delivery_scenarios() -> dict[str, list[list[Any]]]:
    """Which of the bound sockets receives, and with which peer address."""
    out: dict[str, list[list[Any]]] = {}
    sets = [["v4any"], ["v4lo"], ["v6any"], ["v6any-only"], ["v6lo"], ["map-lo"], ["map-any"],
            ["v6any-only", "v4any"], ["v6lo", "v4any"], ["v6lo", "v4lo"],
            ["v6any", "v4lo"], ["v4lo", "v6any"], ["v6any", "v4any"], ["v4any", "v6any"],
            ["map-lo", "v4any"], ["v4any", "map-lo"], ["v6any", "v6lo"], ["v6lo", "v6any"],
            ["v6any", "map-lo"], ["map-lo", "v6any"]]
    for bset in sets:
        for sname, (sfam, dst) in SENDERS.items():
            st: list[list[Any]] = []
            for i, k in enumerate(bset):
                n = f"r{i}"
                st += _mk(n, k, "addr" if len(bset) > 1 else "none", True)
                st.append(["bind", n, KINDS[k][2], PORT])
            st += [["sock", "s", sfam]]
            if sfam == A6:
                st.append(["opt", "s", "v6only", 0])
            st.append(["sendto", "s", b"x".hex(), dst, PORT])
            st += [["recv", f"r{i}"] for i in range(len(bset))]
            out[f"deliver {'+'.join(bset)} {sname}"] = st
    return out


def mapped_scenarios() -> dict[str, list[list[Any]]]:
    """The initiating side: connect/sendto to mapped addresses, names,
    connected filters, ECONNREFUSED."""
    out: dict[str, list[list[Any]]] = {}
    for only in (0, 1):
        out[f"connect mapped v6only={only}"] = [
            ["sock", "r", A4], ["bind", "r", "127.0.0.1", PORT],
            ["sock", "c", A6], ["opt", "c", "v6only", only],
            ["connect", "c", "::ffff:127.0.0.1", PORT], ["getsockname", "c"],
            ["getpeername", "c"], ["send", "c", "6869"], ["recv", "r"]]
        out[f"sendto mapped v6only={only}"] = [
            ["sock", "r", A4], ["bind", "r", "127.0.0.1", PORT],
            ["sock", "c", A6], ["opt", "c", "v6only", only],
            ["sendto", "c", "6869", "::ffff:127.0.0.1", PORT], ["getsockname", "c"],
            ["recv", "r"]]
        out[f"v6only after bind {only}"] = [
            ["sock", "c", A6], ["bind", "c", "::", PORT], ["opt", "c", "v6only", only],
            ["getopt", "c", "v6only"]]
    out["connected filter v6"] = [
        ["sock", "r", A6], ["bind", "r", "::1", PORT], ["sock", "a", A6],
        ["bind", "a", "::1", PORT2], ["sock", "b", A6], ["bind", "b", "::1", 7003],
        ["connect", "r", "::1", PORT2], ["getpeername", "r"],
        ["sendto", "b", "62", "::1", PORT], ["recv", "r"],
        ["sendto", "a", "61", "::1", PORT], ["recv", "r"]]
    out["connected mapped filter"] = [
        ["sock", "r", A6], ["opt", "r", "v6only", 0], ["bind", "r", "::", PORT],
        ["connect", "r", "::ffff:127.0.0.1", PORT2], ["getsockname", "r"],
        ["sock", "a", A4], ["bind", "a", "127.0.0.1", PORT2],
        ["sendto", "a", "61", "127.0.0.1", PORT], ["recv", "r"]]
    for fam, dst in ((A6, "::1"), (A4, "127.0.0.1"), (A6, "::ffff:127.0.0.1")):
        out[f"econnrefused {dst}"] = [
            ["sock", "c", fam], ["connect", "c", dst, 7999], ["send", "c", "78"],
            ["recv", "c"], ["recv", "c"]]
    out["unconnected no error"] = [
        ["sock", "c", A6], ["sendto", "c", "78", "::1", 7999], ["recv", "c"]]
    out["bind mapped on v6only"] = [
        ["sock", "c", A6], ["opt", "c", "v6only", 1], ["bind", "c", "::ffff:127.0.0.1", 0]]
    out["bind nonlocal"] = [["sock", "c", A6], ["bind", "c", "2001:db8::1", 0],
                            ["sock", "d", A4], ["bind", "d", "192.0.2.1", 0]]
    out["connect v6 on mapped-bound"] = [
        ["sock", "c", A6], ["opt", "c", "v6only", 0], ["bind", "c", "::ffff:127.0.0.1", 0],
        ["connect", "c", "::1", PORT]]
    out["connect mapped on v6-bound"] = [
        ["sock", "c", A6], ["opt", "c", "v6only", 0], ["bind", "c", "::1", 0],
        ["connect", "c", "::ffff:127.0.0.1", PORT]]
    out["sendto on a connected socket"] = [
        ["sock", "r", A6], ["bind", "r", "::1", PORT], ["sock", "q", A6],
        ["bind", "q", "::1", PORT2], ["sock", "c", A6], ["connect", "c", "::1", PORT],
        ["sendto", "c", "71", "::1", PORT2], ["recv", "q"], ["recv", "r"]]
    out["getpeername unconnected"] = [["sock", "c", A6], ["getpeername", "c"],
                                      ["getsockname", "c"]]
    return out


def round_scenarios() -> dict[str, list[list[Any]]]:
    """Datagram rounds on the loopback (kame's fast path once warm) with the
    PCB table changing between them: a more specific receiver bound, then
    closed; other loopback addresses; a connected sender's sendto."""
    out: dict[str, list[list[Any]]] = {}
    senders = {"v4": (A4, "127.0.0.1"), "v4-2": (A4, "127.0.0.2"), "v6": (A6, "::1"),
               "map": (A6, "::ffff:127.0.0.1"), "map-2": (A6, "::ffff:127.0.0.2")}
    for sname, (sfam, dst) in senders.items():
        st: list[list[Any]] = [["sock", "s", sfam]]
        if sfam == A6:
            st.append(["opt", "s", "v6only", 0])
        send = ["sendto", "s", "61", dst, PORT]
        st += [["sock", "r0", A6], ["opt", "r0", "v6only", 0], ["opt", "r0", "reuseaddr", 1],
               ["bind", "r0", "::", PORT], send, send, ["recv", "r0"], ["recv", "r0"],
               ["sock", "r1", A4], ["opt", "r1", "reuseaddr", 1], ["bind", "r1", "127.0.0.1", PORT],
               send, send, ["recv", "r1"], ["recv", "r0"], ["recv", "r1"],
               ["close", "r1"], send, ["recv", "r0"],
               ["sock", "r2", A6], ["opt", "r2", "reuseaddr", 1], ["bind", "r2", "::1", PORT],
               send, ["recv", "r2"], ["recv", "r0"], ["close", "r2"],
               ["close", "r0"], send, send, ["recv", "s"], ["getsockname", "s"]]
        out[f"rounds {sname} while receivers come and go"] = st
        out[f"rounds {sname} from a bound sender"] = [
            ["sock", "r", A6], ["opt", "r", "v6only", 0], ["bind", "r", "::", PORT],
            ["sock", "s", sfam]] + ([["opt", "s", "v6only", 0]] if sfam == A6 else []) + [
            ["bind", "s", "::" if sfam == A6 else "0.0.0.0", PORT2], send, send,
            ["recv", "r"], ["recv", "r"], ["getsockname", "s"]]
        out[f"rounds {sname} connected elsewhere"] = [
            ["sock", "r", sfam]] + ([["opt", "r", "v6only", 0]] if sfam == A6 else []) + [
            ["bind", "r", "::" if sfam == A6 else "0.0.0.0", PORT],
            ["sock", "q", sfam], ["bind", "q", "::1" if dst == "::1" else
                                  ("::ffff:" if sfam == A6 else "") + "127.0.0.1", PORT2],
            ["sock", "s", sfam]] + ([["opt", "s", "v6only", 0]] if sfam == A6 else []) + [
            ["connect", "s", dst, PORT2], send, send, ["send", "s", "62"],
            ["recv", "r"], ["recv", "r"], ["recv", "q"], ["recv", "q"]]
    # what a dual AF_INET6 receiver learns of an IPv4 datagram (RFC 3542
    # options: Linux gives the mapped destination alone), a sender's IP_TTL
    # and IP_TOS (AF_INET: kame's IPPROTO_IP options are AF_INET's alone)
    for sname, (sfam, dst) in senders.items():
        st = [["sock", "r", A6], ["opt", "r", "v6only", 0], ["bind", "r", "::", PORT],
              ["opt", "r", "recvpktinfo", 1], ["opt", "r", "recvhoplimit", 1],
              ["opt", "r", "recvtclass", 1], ["sock", "s", sfam]]
        if sfam == A6:
            st.append(["opt", "s", "v6only", 0])
        send = ["sendto", "s", "61", dst, PORT]
        st += [send, ["recvmsg", "r"], send, ["recvmsg", "r"]]
        if sfam == A4:
            st += [["opt", "s", "ttl", 9], ["opt", "s", "tos", 0x20], send, ["recvmsg", "r"],
                   send, ["recvmsg", "r"]]
        elif dst == "::1":
            st += [["opt", "s", "unicast_hops", 9], ["opt", "s", "tclass", 0x20], send,
                   ["recvmsg", "r"], send, ["recvmsg", "r"]]
        out[f"rounds {sname} ancillary data"] = st
    return out


def all_scenarios() -> dict[str, list[list[Any]]]:
    return {**bind_scenarios(), **delivery_scenarios(), **mapped_scenarios(),
            **round_scenarios()}


def zone_scenarios() -> dict[str, list[list[Any]]]:
    """Zones from users (seed §1.3, issue 8 item 5) in a namespace whose only
    interface is ``lo`` (index 1): zone ids that name no interface, zones
    beside addresses that need none, link-local destinations without one.
    Run on kame's emulation over a node with ``lo`` at index 1."""
    out: dict[str, list[list[Any]]] = {}
    for a, z in (("fe80::10", 99), ("ff02::1", 99), ("ff01::1", 99), ("fe80::10", 1),
                 ("2001:db8::1", 99), ("::1", 99), ("::", 99), ("ff02::1", 1),
                 ("ff02::1:2", 1)):
        out[f"zone bind {a} %{z}"] = [["sock", "c", A6], ["bind6", "c", [a, 0, 0, z]],
                                      ["getsockname", "c"]]
    for a, z in (("fe80::10", 99), ("ff02::1", 99), ("ff01::1", 99), ("fe80::10", 0),
                 ("ff02::1", 0), ("::1", 99)):
        out[f"zone connect {a} %{z}"] = [["sock", "c", A6], ["connect6", "c", [a, 7, 0, z]],
                                         ["getpeername", "c"]]
    for a, z in (("fe80::10", 99), ("ff02::1", 99), ("ff01::1", 99), ("::1", 99)):
        out[f"zone sendto {a} %{z}"] = [["sock", "c", A6], ["sendto6", "c", "78", [a, 7, 0, z]]]
    out["zone join ifindex 99"] = [["sock", "c", A6], ["join", "c", "ff02::1:3", 99]]
    out["zone multicast_if 99"] = [["sock", "c", A6], ["mcif", "c", 99]]
    out["zone pktinfo ifindex 99"] = [["sock", "c", A6], ["pktinfo", "c", "::1", 7, 99]]
    out["zone pktinfo sticky 99"] = [["sock", "c", A6], ["pktinfo_sticky", "c", 99],
                                     ["sendto6", "c", "78", ["::1", 7, 0, 0]]]
    out["zone name unknown"] = [["sock", "c", A6], ["bind6", "c", ["fe80::10%nosuchif", 0]]]
    return out


def _norm(v: Any) -> Any:
    if isinstance(v, tuple):
        v = list(v)
    if isinstance(v, list):
        return [_norm(x) for x in v]
    if isinstance(v, int) and not isinstance(v, bool) and v >= 32768:
        return "eph"
    if isinstance(v, bytes):
        return v.hex()
    return v


def run(steps: list[list[Any]], make: Any, host: bool) -> list[Any]:
    socks: dict[str, Any] = {}
    out: list[Any] = []
    for step in steps:
        op, name, *args = step
        s = socks.get(name)
        try:
            if op == "sock":
                s = make(args[0])
                socks[name] = s
                r: Any = "ok"
            elif op == "opt":
                lvl, opt = {"v6only": (socket.IPPROTO_IPV6, socket.IPV6_V6ONLY),
                            "recvpktinfo": (socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO),
                            "recvhoplimit": (socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT),
                            "recvtclass": (socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS),
                            "unicast_hops": (socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS),
                            "tclass": (socket.IPPROTO_IPV6, socket.IPV6_TCLASS),
                            "ttl": (socket.IPPROTO_IP, socket.IP_TTL),
                            "tos": (socket.IPPROTO_IP, socket.IP_TOS),
                            "reuseaddr": (socket.SOL_SOCKET, socket.SO_REUSEADDR),
                            "reuseport": (socket.SOL_SOCKET, socket.SO_REUSEPORT)}[args[0]]
                s.setsockopt(lvl, opt, args[1])
                r = "ok"
            elif op == "getopt":
                r = s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
            elif op == "bind":
                s.bind((args[0], args[1]))
                r = "ok"
            elif op == "bind6":
                s.bind(tuple(args[0]))
                r = "ok"
            elif op == "connect6":
                s.connect(tuple(args[0]))
                r = "ok"
            elif op == "sendto6":
                r = s.sendto(bytes.fromhex(args[0]), tuple(args[1]))
            elif op == "join":
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                             socket.inet_pton(A6, args[0]) + struct.pack("=I", args[1]))
                r = "ok"
            elif op == "mcif":
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, args[0])
                r = "ok"
            elif op == "pktinfo":
                r = s.sendmsg([b"x"], [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO,
                                        bytes(16) + struct.pack("=I", args[2]))], 0,
                              (args[0], args[1]))
            elif op == "pktinfo_sticky":
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO,
                             bytes(16) + struct.pack("=I", args[0]))
                r = "ok"
            elif op == "connect":
                s.connect((args[0], args[1]))
                r = "ok"
            elif op == "sendto":
                r = s.sendto(bytes.fromhex(args[0]), (args[1], args[2]))
            elif op == "send":
                r = s.send(bytes.fromhex(args[0]))
            elif op == "recv":
                if host:
                    select.select([s], [], [], 0.25)
                r = list(s.recvfrom(100))
            elif op == "recvmsg":
                if host:
                    select.select([s], [], [], 0.25)
                data, anc, _fl, peer = s.recvmsg(100, 256)
                r = [data, peer, sorted(_anc(lv, ty, v) for lv, ty, v in anc)]
            elif op == "close":
                s.close()
                del socks[name]
                r = "ok"
            elif op == "getsockname":
                r = s.getsockname()
            elif op == "getpeername":
                r = s.getpeername()
            else:
                raise ValueError(op)
        except OSError as e:
            r = errno.errorcode.get(e.errno or 0, str(e.errno))
        out.append(_norm(r))
    for s in socks.values():
        s.close()
    return out


def _anc(level: int, typ: int, v: bytes) -> list[Any]:
    """An ancillary item as the scenarios compare it: IPV6_PKTINFO's
    address (its interface index differs: the kernel's ``lo`` against a
    layer with no interfaces), an int's value."""
    if level == socket.IPPROTO_IPV6 and typ == socket.IPV6_PKTINFO:
        return ["pktinfo", socket.inet_ntop(A6, bytes(v[:16]))]
    return [f"{level}/{typ}", struct.unpack("=i", bytes(v[:4]))[0] if len(v) >= 4 else v]


def host_make(fam: int) -> Any:
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setblocking(False)
    return s


if __name__ == "__main__":
    sc = {**all_scenarios(), **zone_scenarios()}
    names = sys.argv[1:] or list(sc)
    print(json.dumps({n: run(sc[n], host_make, True) for n in names}))
