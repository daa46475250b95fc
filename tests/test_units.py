import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alif_spice.units import format_spice_number, parse_number


@pytest.mark.parametrize("text,value", [
    ("47n", 47e-9), ("3.2k", 3.2e3), ("1meg", 1e6), ("1MEG", 1e6), ("250u", 250e-6),
    ("250µ", 250e-6), ("1e-3", 1e-3), ("-0.05", -0.05), (".5m", 0.5e-3), ("2G", 2e9),
    ("10p", 10e-12), ("3f", 3e-15), ("1.5T", 1.5e12), (" 12 ", 12.0), ("1M", 1e-3),
])
def test_parse_engineering_suffixes(text, value):
    assert parse_number(text) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text", ["", "abc", "47nF", "1Farad", "3kOhm", "1e", "--1", "1 k k", "inf", "nan", "-inf",
                                  "1e999"])
def test_parse_rejects(text):
    with pytest.raises(ValueError):
        parse_number(text)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_round_trips(value):
    assert parse_number(format_spice_number(value)) == value or value == 0.0


def test_format_rejects_non_finite():
    with pytest.raises(ValueError):
        format_spice_number(math.inf)
