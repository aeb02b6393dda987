"""Every reply parser: any input gives a value or the typed InstrumentError, never another exception."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from labd.drivers import InstrumentError
from labd.drivers.instruments.base import parse_number
from labd.drivers.instruments.fluke_1529 import parse_cal_date, parse_stamped
from labd.drivers.instruments.fluke_5520a import parse_error
from labd.drivers.instruments.keysight_344xx import parse_reading, parse_scpi_error
from labd.drivers.instruments.mettler_sics import check_status, parse_quoted, parse_weight
from labd.drivers.instruments.modbus_ambient import REGISTER_MAPS, Register, parse_registers
from labd.drivers.instruments.temperature_sources import parse_hart

# Text that looks like replies as well as arbitrary text, so that the interesting branches are reached.
reply_text = st.one_of(
    st.text(max_size=60),
    st.from_regex(r"\A(S|T|Z|I4|I2) [SDIL+\-A]( +[-+]?\d{0,6}\.?\d{0,5}( [a-z]{1,3})?)?\Z"),
    st.from_regex(r'\A[01],\d,[-+]?\d{1,4}\.\d{1,5},[CFKO],\d+,\d+,\d+,\d+,\d+,\d+\Z'),
    st.from_regex(r"\A[a-z]{1,4}: *[-+]?\d{0,4}\.?\d{0,3} ?[CFKX]?\Z"),
    st.from_regex(r'\A[-+]?\d{1,4},"[A-Za-z ]{0,20}"\Z'),
    st.from_regex(r"\A[-+]?\d\.\d{8}E[-+]\d{2}\Z"),
)

PARSERS = [
    ("number", lambda s: parse_number("x", s)),
    ("weight", lambda s: parse_weight("x", s)),
    ("tare", lambda s: parse_weight("x", s, "T")),
    ("status", lambda s: check_status("x", s, "Z")),
    ("quoted", lambda s: parse_quoted("x", s, "I4")),
    ("stamped", lambda s: parse_stamped("x", s)),
    ("cal-date", lambda s: parse_cal_date("x", s)),
    ("hart-t", lambda s: parse_hart("x", s, "t")),
    ("hart-set", lambda s: parse_hart("x", s, "set")),
    ("5520-err", lambda s: parse_error("x", s)),
    ("dmm-reading", lambda s: parse_reading("x", s)),
    ("scpi-err", lambda s: parse_scpi_error("x", s)),
]


@pytest.mark.parametrize("name, parse", PARSERS, ids=[p[0] for p in PARSERS])
@settings(max_examples=400, deadline=None)
@given(text=reply_text)
def test_parser_gives_a_value_or_the_typed_error(name, parse, text):
    try:
        parse(text)
    except InstrumentError as exc:
        assert exc.instrument == "x"


registers = st.sampled_from([*REGISTER_MAPS["xy-md02"], *REGISTER_MAPS["vaisala-hmt330"],
                             Register("t", "°C", 0, 3, "int32", 0.01), Register("t", "°C", 0, 3, "uint32", 1.0)])


@settings(max_examples=400, deadline=None)
@given(register=registers, words=st.lists(st.integers(-5, 0x1FFFF), max_size=3))
def test_modbus_register_parser(register, words):
    try:
        value = parse_registers("x", register, words)
    except InstrumentError:
        return
    assert value == value  # finite: NaN and inf are refused


@given(value=st.floats(-1000, 1000, allow_nan=False))
def test_stable_weight_round_trip(value):
    text = f"{value:.4f}"
    reading = parse_weight("x", f"S S {text:>10} g")
    assert reading.value == float(text) and reading.stable and reading.unit == "g"
