"""``kame dissect`` reads its words without argparse when it can
(:func:`kame.cli.dissect.parse_words`): whatever it reads, it reads as
argparse's parser from :func:`kame.cli.dissect.add_parser` does, and what
it does not read exactly so (help, mistakes, ``--``, an option after the
file...) it leaves to argparse."""

from __future__ import annotations

import argparse
import contextlib
import io
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.cli import dissect
from kame.cli.args import ArgumentParser


def _argparse(words: list[str]) -> dict[str, Any] | None:
    ap = ArgumentParser(prog="kame")
    sub = ap.add_subparsers(dest="command")
    dissect.add_parser(sub)
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            ns = ap.parse_args(["dissect", *words])
    except SystemExit:
        return None
    return _plain(ns)


def _plain(ns: argparse.Namespace | dissect.Args) -> dict[str, Any]:
    names = ("words", "read", "count", "n", "link", "quiet", "verbose", "write", "output_type",
             "hdrnestlimit", "no_cksum", "command")
    return {k: getattr(ns, k) for k in names} | {"func": ns.func is dissect._run}


#: Command lines the benchmark and users type: read without argparse.
FAST = [
    [],
    ["-n", "-r", "k.pcap"],
    ["-n", "-e", "-r", "k.pcap"],
    ["-n", "-v", "-r", "k.pcap"],
    ["-nvv", "-r", "k.pcap"],
    ["-n", "-q", "-r", "k.pcap"],
    ["-n", "-c", "1000", "-r", "k.pcap"],
    ["-c5", "k.pcap"],
    ["-n", "-T", "json", "-r", "k.pcap"],
    ["-Tjson", "k.pcap", "ip6"],
    ["-n", "-r", "k.pcap", "-w", "o.pcap", "ip6 and tcp port 80"],
    ["-nr", "k.pcap", "-w", "-", "ip6", "and", "tcp", "port", "80"],
    ["-r", "-", "udp"],
    ["-"],
    ["k.pcap", "not", "arp"],
    ["--count", "3", "--hdrnestlimit=7", "--no-cksum", "--verbose", "k.pcap"],
    ["-enqv", "k.pcap"],
    ["-rk.pcap", "-wout.pcap", "icmp6"],
]

#: Left to argparse: help, mistakes, and what argparse reads its own way.
SLOW = [
    ["-h"], ["--help"], ["-c"], ["-c", "x"], ["-c", "-1"], ["-T", "xml"], ["-r"],
    ["k.pcap", "-n"], ["--", "-x"], ["-x"], ["--cou", "3"], ["--hdrnestlimit", "-1"],
    ["-c=5", "k.pcap"], ["--verbose=1"], ["-r", "-n"], ["--hdrnestlimit", "99999999999"],
]


@pytest.mark.parametrize("words", FAST, ids=" ".join)
def test_common_command_lines_are_read_as_argparse_reads_them(words: list[str]) -> None:
    fast = dissect.parse_words(words)
    assert fast is not None, words
    assert _plain(fast) == _argparse(words)


@pytest.mark.parametrize("words", SLOW, ids=" ".join)
def test_the_rest_is_left_to_argparse(words: list[str]) -> None:
    assert dissect.parse_words(words) is None


WORDS = st.sampled_from([
    "-n", "-e", "-q", "-v", "-vv", "-nq", "-ne", "-nr", "-r", "-c", "-c0", "-c7", "-w", "-T",
    "-Tjson", "-Ttext", "--count", "--count=2", "--count=x", "--hdrnestlimit",
    "--hdrnestlimit=0", "--no-cksum", "--verbose", "--verb", "--", "-", "-x", "-rf.pcap",
    "3", "-3", "json", "text", "xml", "f.pcap", "ip6", "and", "tcp port 80", "", "=5", "-c=1",
])


@given(st.lists(WORDS, max_size=8))
def test_whatever_is_read_fast_is_read_as_argparse_reads_it(words: list[str]) -> None:
    fast = dissect.parse_words(words)
    if fast is not None:
        assert _plain(fast) == _argparse(words), words
