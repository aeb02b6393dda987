"""Parameters declared once: bounds enforced before anything moves, the same declaration in `labd run --list`,
the MQTT `list` reply (JSON Schema) and docs/procedures.md."""
from __future__ import annotations

import pytest

from labd.procedures import PROCEDURES
from labd.procedures.params import build, json_schema, markdown

from .conftest import REPO


@pytest.mark.parametrize("procedure, values, refusal", [
    ("working-standard-check", {"interval": "0"}, "interval: 0 s must be above 0 s"),
    ("working-standard-check", {"interval": "-10"}, "must be above 0 s"),
    ("working-standard-check", {"readings": 1e300}, "readings: 1e+300 is above the highest allowed"),
    ("working-standard-check", {"readings": "1e300"}, "expected a whole number"),
    ("thermometer-calibration", {"stability.window": "1"}, "stability.window: 1 is below the lowest allowed, 2"),
    ("thermometer-calibration", {"interval": "nan"}, "expected a finite number"),
    ("thermometer-calibration", {"set_points": "30,2000"}, "set_points: 2000 °C is above the highest allowed"),
    ("thermometer-calibration", {"set_points": ""}, "set_points: at least 1 value"),
    ("balance-calibration", {"positions": "centre,middle"}, "'middle' is not one of"),
    ("stability-run", {"duration_hours": "inf"}, "expected a finite number"),
])
def test_values_outside_their_declaration_are_refused(procedure, values, refusal):
    with pytest.raises(ValueError, match=refusal.replace("(", r"\(").replace("+", r"\+")):
        build(PROCEDURES[procedure].parameters, values)


def test_every_parameter_has_a_meaning_and_numbers_have_bounds():
    for info in PROCEDURES.values():
        schema = json_schema(info.parameters, info.name)
        for name, entry in schema["properties"].items():
            assert entry.get("description"), f"{info.name}.{name} has no description"
            target = entry.get("items", entry)
            if target["type"] in ("number", "integer"):
                assert {"minimum", "exclusiveMinimum"} & target.keys(), f"{info.name}.{name} has no lower bound"
                assert {"maximum", "exclusiveMaximum"} & target.keys(), f"{info.name}.{name} has no upper bound"


def test_the_schema_describes_what_build_accepts():
    schema = json_schema(PROCEDURES["thermometer-calibration"].parameters)
    assert schema["additionalProperties"] is False
    sp = schema["properties"]["set_points"]
    assert sp["type"] == "array" and sp["items"]["maximum"] == 1000.0 and sp["x-unit"] == "°C"
    assert schema["properties"]["stability.window"]["minimum"] == 2
    assert schema["properties"]["repetitions"]["type"] == "integer"


def test_docs_carry_the_declared_parameters():
    doc = (REPO / "docs" / "procedures.md").read_text()
    for info in PROCEDURES.values():
        assert markdown(info.name, info.version, info.description, info.parameters) in doc, \
            f"docs/procedures.md is out of date for {info.name}: regenerate with labd run --list --markdown"
