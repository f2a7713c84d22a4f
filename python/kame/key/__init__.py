"""Key and policy management (seed §4.1, §4.2): the SAD, the SPD, PF_KEY v2
messages (RFC 2367), the key engine that processes them, setkey's
configuration language and IPsec in the node (``ipsec6_output`` /
``ipsec6_input``)."""

from kame.key.engine import KeyEngine
from kame.key.sad import Sad, SaState, SecAsVar
from kame.key.spd import IpsecRequest, SecPolicy, Selector, Spd

__all__ = [
           "IpsecRequest",
           "KeyEngine",
           "SaState",
           "Sad",
           "SecAsVar",
           "SecPolicy",
           "Selector",
           "Spd",
]
