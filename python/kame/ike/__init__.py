"""IKE: racoon's job (issue 10). :mod:`kame.ike.ikev2` holds the IKEv2
exchanges (sans-I/O), :mod:`kame.ike.conf` reads racoon.conf."""

from kame.ike.ikev2 import ChildProposal, Ike, IkeProposal, Peer

__all__ = ["ChildProposal", "Ike", "IkeProposal", "Peer"]
