"""`kame racoon -f racoon.conf --tap IFNAME --addr ADDR/LEN [--setkey FILE]`:
the IKE key-management daemon (IKEv2, and IKEv1 for `ike_version 1` remotes) on a kame node on a TAP device.

``--addr`` takes IPv6 and IPv4 addresses (ARP and IPv4 come with the
latter); each remote's local end is the ``listen`` address of its family,
else the first ``--addr`` of it, and IKE runs on UDP 500 and 4500 of each
family the node has an address of.

The node is made as `kame tcp` makes one; ``--setkey`` loads a setkey(8)
file into its key engine (the SPD whose ``require`` policies make the
ACQUIREs racoon answers). IKE goes through the node's UDP sockets on
ports 500 and 4500. Standard input takes racoonctl-like commands, one per
line, each answered with one JSON line on standard output:
``show-sa`` (the IKE SAs, the SAD and the counters), ``establish-sa ADDR``
(initiate to a remote), ``delete-sa ADDR``, ``delete-child SPI`` (one
CHILD SA or IKEv1 IPsec SA pair, named by its inbound SPI, its IKE SA and
the others kept), ``keys`` (the IKE and CHILD
SA keys as Wireshark's ``ikev2_decryption_table`` and ``esp_sa`` rows, a
key log for tshark), ``ping DST [SRC]`` (one Echo
Request from the node; ``ping6 DST`` is the same), ``quit`` (delete every SA, wait up to 5 s for the
peers to confirm, and exit). The log goes to standard error.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import time
from ipaddress import IPv6Interface, ip_address
from pathlib import Path
from typing import Any

from kame.cli.args import float_range
from kame.cli.node import _derived_mac, _ifname, _kernel_up, _open_tap, parse_mac
from kame.cli.tcp import parse_addr
from kame.errors import ConfigError

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    from kame.ike.conf import parse
    from kame.ike.ikev1 import Ikev1, V1Peer
    from kame.ike.ikev2 import NATT_PORT, Ike
    from kame.key import setkey
    from kame.link.runner import Runner
    from kame.node import Node
    from kame.socket import AF_INET, AF_INET6, IPPROTO_IPV6, IPV6_V6ONLY, SocketLayer

    path = Path(args.file)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror}") from None
    addrs = args.addr or []
    # our end of each remote: the first --addr of its family (IPv6 or IPv4)
    local = [next(a.ip for a in addrs if a.version == v)
             for v in (6, 4) if any(a.version == v for a in addrs)]
    conf = parse(text, base=path.parent, local=local)
    node = Node("racoon", seed=int.from_bytes(os.urandom(4), "big"))
    node.knobs["net.inet6.ip6.dad_count"] = 0
    node.knobs["net.link.ether.inet.dad_count"] = 0  # no RFC 5227 probes: usable at once
    ifname = args.tap
    node.add_interface(ifname, args.mac or _derived_mac(ifname, "racoon"), mtu=1500)
    key = node.attach_key()
    layer = SocketLayer(node, "linux")
    t0 = time.monotonic()

    def clock() -> float:
        return time.monotonic() - t0

    def log(line: str) -> None:
        sys.stderr.write(f"racoon: {line}\n")
        sys.stderr.flush()

    tap = _open_tap(ifname)
    with tap:
        runner = Runner(clock)
        runner.attach_device(node, tap.name, tap)
        end = clock() + args.wait
        while not _kernel_up(tap.name) and clock() < end:
            time.sleep(0.05)
        runner.transmit(node, node.up(tap.name, clock()))
        for a in addrs:
            if isinstance(a, IPv6Interface):
                node.add_address(tap.name, str(a), clock())
            else:
                node.add_address4(tap.name, str(a), clock())
        for gw in args.gateway or []:
            if ip_address(gw).version == 6:
                node.route_add("::/0", gw, tap.name)
            else:
                node.inet.route_add("0.0.0.0/0", gw, tap.name)
        if args.setkey:
            res = setkey.run(Path(args.setkey).read_text(), key.engine, clock())
            if res.errors:
                raise ConfigError(f"{args.setkey}: {res.errors[0]}")
        v2 = [p for p in conf.peers if not isinstance(p, V1Peer)]
        v1 = [p for p in conf.peers if isinstance(p, V1Peer)]
        # IKEv2 registers with the key engine only when it has remotes of its
        # own; each daemon leaves the other's ACQUIREs alone
        ike = Ike(v2, key.engine if v2 or not v1 else None, log=log, others=v1)
        # racoon's own protocol for the remotes with `ike_version 1`
        ikev1 = Ikev1(v1, key.engine, log=log, others=v2 if v2 else [])
        daemons: list[Any] = [ike, ikev1]
        # IKE on UDP 500 and 4500 of each family we have an address of
        socks = {}
        for fam, any_addr, v in ((AF_INET6, "::", 6), (AF_INET, "0.0.0.0", 4)):
            if not any(a.version == v for a in addrs):
                continue
            for port in (500, NATT_PORT):
                s = layer.socket(fam)
                if fam == AF_INET6:
                    s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)
                s.bind((any_addr, port))
                socks[(v, port)] = s
        replies: list[Any] = []

        def pump() -> None:
            now = clock()
            for (_v, port), s in socks.items():
                while True:
                    try:
                        data, addr = s.recvfrom(65535)
                    except BlockingIOError:
                        break
                    if port == NATT_PORT:
                        if data == b"\xff":
                            continue  # NAT-keepalive (RFC 3948 §2.3)
                        if data[:4] != bytes(4):
                            continue
                        data = data[4:]
                    peer = ip_address(addr[0])
                    # the major version in the header picks the daemon
                    d = ikev1 if len(data) > 17 and data[17] >> 4 == 1 else ike
                    p = next((x for x in d.peers if x.address == peer), None)
                    d.input(data, peer, addr[1], p.local_address if p else peer, port, now)
            out = []
            for d in daemons:
                d.timehandler(now)
                out += d.out
                d.out = []
            for data, dst, dport, sport in out:
                payload = (bytes(4) + data) if sport == NATT_PORT else data
                try:
                    so = socks.get((dst.version, sport))
                    if so is None:
                        raise OSError(f"no IPv{dst.version} address of ours")
                    so.sendto(payload, (str(dst), dport))
                except OSError as e:
                    log(f"sendto {dst} port {dport}: {e}")
            for ev in node.drain_events():
                if type(ev).__name__ in ("EchoReply", "EchoReply4"):
                    replies.append(str(ev.src))

        runner.after_service.append(pump)

        def show() -> dict[str, Any]:
            return {"ike": [{"peer": str(s.peer.address), "state": s.state,
                             "spi_i": s.spi_i.hex(), "spi_r": s.spi_r.hex(),
                             "child_in": s.child_spi_in, "child_out": s.child_spi_out,
                             "nat": s.nat, "error": s.error,
                             "children": [{"in": c.child_spi_in, "out": c.child_spi_out,
                                           "local": str(c.ts[0]), "remote": str(c.ts[1])}
                                          for c in s.all_children()
                                          if c.installed],
                             "version": 1 if d is ikev1 else 2}
                            for d in daemons for s in d.sas.values()],
                    "sad": [{"src": str(x.src), "dst": str(x.dst), "spi": x.spi,
                             "udp_encap": x.udp_encap} for x in key.sad],
                    "stats": {**ike.stats, **{f"v1.{k}": v for k, v in ikev1.stats.items()}},
                    "replies": replies, "log": (ike.log + ikev1.log)[-30:],
                    "ipsec6": dict(getattr(key, "stats", {}) or {}),
                    "ipsec4": dict(node.inet.ipsec4stat)}

        def answer(obj: Any) -> None:
            sys.stdout.write(json.dumps(obj, default=str) + "\n")
            sys.stdout.flush()

        answer({"ready": True})
        quitting: float | None = None
        buf = b""
        while True:
            runner.service()
            now = clock()
            if quitting is not None and (not (ike.sas or ikev1.sas) or now > quitting):
                answer(show())
                return 0
            r, _, _ = select.select([*runner.fds(), sys.stdin], [], [], runner.timeout(0.2))
            if sys.stdin not in r:
                continue
            chunk = os.read(sys.stdin.fileno(), 4096)
            if not chunk:
                if quitting is None:
                    ike.shutdown(now)
                    ikev1.shutdown(now)
                    quitting = now + 5.0
                continue
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                w = line.decode(errors="replace").split()
                if not w:
                    continue
                try:
                    if w[0] == "show-sa":
                        answer(show())
                    elif w[0] == "establish-sa" and len(w) == 2:
                        p = next(x for x in conf.peers if x.address == ip_address(w[1]))
                        if isinstance(p, V1Peer):
                            ikev1.initiate(p, now)
                        else:
                            ike.initiate(p, now)
                        answer({"ok": True})
                    elif w[0] == "delete-sa" and len(w) == 2:
                        gone = ip_address(w[1])
                        for d in daemons:
                            for isa in [x for x in d.sas.values() if x.peer.address == gone]:
                                d.delete(isa, now)
                        answer({"ok": True})
                    elif w[0] == "delete-child" and len(w) == 2:
                        spi = int(w[1], 0)
                        for isa2 in list(ike.sas.values()):
                            if (ch2 := isa2.child_by(spi_in=spi)) is not None:
                                ike.delete_child(isa2, ch2, now)
                        for isa1 in list(ikev1.sas.values()):
                            if (ch1 := isa1.child_by(spi_in=spi)) is not None:
                                ikev1.delete_pair(isa1, ch1, now)
                        answer({"ok": True})
                    elif w[0] == "keys":
                        answer({"ikev2_decryption_table": [
                            x.ikev2_decryption_row() for x in ike.sas.values() if x.keys],
                            "esp_sa": ike.esp_sa_rows()})
                    elif w[0] in ("ping", "ping6") and len(w) in (2, 3):
                        dst = ip_address(w[1])
                        if dst.version == 6:
                            runner.transmit(node, node.ping(w[1], now))
                        else:
                            runner.transmit(node, node.ping4(
                                dst, now, src=w[2] if len(w) == 3 else None))
                        answer({"ok": True})
                    elif w[0] == "quit":
                        ike.shutdown(now)
                        ikev1.shutdown(now)
                        quitting = now + 5.0
                    else:
                        answer({"error": f"unknown command {line.decode(errors='replace')!r}"})
                except (StopIteration, ValueError) as e:
                    answer({"error": str(e) or "no such remote"})


def add_parser(sub: Any) -> None:
    p = sub.add_parser("racoon", help="IKE key management on a node (racoon.conf; IKEv2, IKEv1)",
                       description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("-f", dest="file", required=True, metavar="FILE", help="racoon.conf")
    p.add_argument("--tap", metavar="IFNAME", type=_ifname, required=True,
                   help="TAP device to open (created if missing)")
    p.add_argument("--addr", metavar="ADDR/LEN", type=parse_addr, action="append",
                   help="our address on the link (repeatable)")
    p.add_argument("--mac", type=parse_mac, help="our MAC address")
    p.add_argument("--gateway", metavar="ADDR", action="append",
                   help="default router (route add ::/0 ADDR, or 0.0.0.0/0 for an IPv4 "
                        "ADDR; once per family)")
    p.add_argument("--setkey", metavar="FILE", help="setkey(8) file for the SPD")
    p.add_argument("--wait", type=float_range(0.1, 3600.0, "wait"), default=30.0,
                   metavar="SECONDS", help="bound on waiting for the link (default 30)")
    p.set_defaults(func=_run)
