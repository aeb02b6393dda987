"""The Digital Calibration Certificate beside every calibration certificate (issue 15, item 4): valid against
PTB's DCC 3.3.0 schema (with D-SI 2.2.1), a copy of which is test data here (tests/data/dcc, LGPL-3.0, see its
README); a draft says so; the numbers are the certificate's."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from labd.daemon.documents import load, render

from .test_reports import _recorded

SCHEMAS = Path(__file__).resolve().parent / "data" / "dcc"
QUDT = "https://www.ptb.de/si/v2.2.1/qudt/quantitykind.xsd"
NS = {"dcc": "https://ptb.de/dcc", "si": "https://ptb.de/si"}


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMAS / "dcc.xsd"), allow="local",
                               uri_mapper={QUDT: (SCHEMAS / "si/qudt/quantitykind.xsd").as_uri()})


def test_the_schema_copy_accepts_its_published_example_and_refuses_a_broken_one(schema, tmp_path):
    example = SCHEMAS / "examples" / "minimal-thermometer.xml"
    schema.validate(str(example))
    broken = tmp_path / "broken.xml"
    broken.write_text(example.read_text().replace("<dcc:performanceLocation>laboratory</dcc:performanceLocation>",
                                                  ""))
    assert not schema.is_valid(str(broken))          # a test that can fail: the schema is really checked


@pytest.mark.parametrize("procedure, params, unit", [
    ("thermometer-calibration", {"set_points": "30,50", "repetitions": "3", "stability.window": "6",
                                 "customer": "PT Contoh", "received": "2026-11-20"}, "\\degreecelsius"),
    ("balance-calibration", {"repetitions": "2"}, "\\gram"),
    ("dmm-calibration", {"points": "1,10", "repetitions": "3"}, "\\volt"),
])
async def test_every_calibration_gets_a_valid_dcc_with_the_certificates_numbers(tmp_path, schema, procedure, params,
                                                                               unit):
    config, outcome = await _recorded(tmp_path, procedure, params, speed=400)
    written = render(load(tmp_path / "labd.sqlite", f"{procedure}-1"), config.lab, "en", tmp_path / "out", ("html",))
    dcc = next(p for p in written if p.suffix == ".xml")
    schema.validate(str(dcc))
    root = ET.parse(dcc).getroot()
    assert root.find(".//dcc:uniqueIdentifier", NS).text == f"DRAFT-{procedure}-1"
    draft = [s for s in root.findall(".//dcc:statement", NS) if s.find("dcc:valid", NS) is not None]
    assert draft and draft[0].find("dcc:valid", NS).text == "false"
    html = next(p for p in written if p.suffix == ".html").read_text()
    result = root.findall(".//dcc:result//dcc:quantity", NS)[3]
    assert result.find(".//si:unitXMLList", NS).text == unit
    for value in result.find(".//si:valueXMLList", NS).text.split():
        assert value.replace("-", "−") in html or value in html       # the same numbers as the certificate
    assert result.find(".//si:coverageProbabilityXMLList", NS).text.split()[0] == "0.9545"
