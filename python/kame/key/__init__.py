"""Key and policy management (seed §4.1, §4.2): the SAD, the SPD, PF_KEY v2
messages (RFC 2367), the key engine that processes them, setkey's
configuration language and IPsec in the node (``ipsec6_output`` /
``ipsec6_input``)."""

import importlib
from typing import TYPE_CHECKING, Any

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

#: The modules ``kame.key.X`` reaches without an import (``kame.key.setkey.run``).
_SUBMODULES = frozenset({"engine", "ipsec6", "pfkey", "sad", "setkey", "spd"})

if TYPE_CHECKING:
    from kame.key import engine as engine
    from kame.key import ipsec6 as ipsec6
    from kame.key import pfkey as pfkey
    from kame.key import sad as sad
    from kame.key import setkey as setkey
    from kame.key import spd as spd


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"kame.key.{name}")
    raise AttributeError(f"module 'kame.key' has no attribute {name!r}")
