import pytest

import kame
from kame import errors


def test_tree():
    assert issubclass(errors.TruncatedError, errors.ParseError)
    assert issubclass(errors.ParseError, ValueError)
    assert issubclass(errors.IntegrityError, errors.IpsecError)
    assert issubclass(errors.ConfigError, ValueError)
    assert kame.ParseError is errors.ParseError


def test_attributes_survive():
    e = errors.MalformedError(
        "hop-by-hop at offset 42: bad", layer="hop-by-hop", offset=42,
        icmp=errors.Icmp6Answer(4, 0, 2),
    )
    assert e.offset == 42 and e.icmp.type == 4 and e.icmp.pointer == 2
    with pytest.raises(errors.ParseError):
        raise e
