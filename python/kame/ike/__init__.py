"""IKE: racoon's job (issue 10). :mod:`kame.ike.ikev2` holds the IKEv2
exchanges and :mod:`kame.ike.ikev1` the IKEv1 ones (sans-I/O), both on
:mod:`kame.ike.daemon` (the log, the remotes, PF_KEY to the key engine);
:mod:`kame.ike.conf` reads racoon.conf."""

from kame.ike.ikev2 import ChildProposal, Ike, IkeProposal, Peer, Sainfo

__all__ = ["ChildProposal", "Ike", "IkeProposal", "Peer", "Sainfo"]
