"""The driver against its simulator, as (command, reply) pairs and over a real pty."""
import pytest

from labd_example.driver import parse_reading
from labd.drivers import ProtocolError


@pytest.mark.parametrize("reply, value", [("T=+23.456 C", 23.456), ("T=-0.010 C\r\n", -0.01)])
def test_readings_parse(reply, value):
    assert parse_reading("t", reply) == value


def test_a_garbled_reply_is_a_protocol_error_with_its_bytes():
    with pytest.raises(ProtocolError) as err:
        parse_reading("t", "T=12 C")
    assert err.value.raw == b"T=12 C"
