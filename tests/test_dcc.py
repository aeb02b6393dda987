"""The Digital Calibration Certificate beside every calibration certificate (issue 15, item 4): valid against
PTB's DCC 3.3.0 schema (with D-SI 2.2.1), a copy of which is test data here (tests/data/dcc, LGPL-3.0, see its
README); a draft says so; the numbers are the certificate's."""
from __future__ import annotations

import re

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from labd.daemon.documents import load, render
from labd.daemon.engine import RunFailed

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


async def test_a_thermometer_read_in_resistance_gets_its_cvd_coefficients_on_the_certificate_and_a_valid_dcc(
        tmp_path, schema):
    from labd.daemon.records import Records
    from .simlab import run_procedure, simulated
    records = await Records(tmp_path / "labd.sqlite").open()
    try:
        async with simulated(speed=400) as (config, instruments, lab, standards):
            lab.servers["ref_readout"].device.channel_units = {2: "O"}       # the UUT's channel reads ohms
            outcome, ctx = await run_procedure(
                "thermometer-calibration", {"set_points": "0,50,100", "repetitions": "3", "uut_reads": "resistance"},
                lab=lab, instruments=instruments, standards=standards, config=config, records=records,
                run_id="thermometer-calibration-1")
    finally:
        await records.close()
    data = outcome.to_json()
    c = data["cvd"]["coefficients"]
    assert c["A"] == pytest.approx(3.9083e-3, rel=2e-3) and not data["cvd"]["fitted_c"]
    assert data["cvd"]["callendar"]["alpha"] == pytest.approx(c["A"] + 100 * c["B"], rel=1e-12)
    assert [r for r in ctx.readings if r.role == "unit under test"][0].unit == "Ω"
    parts = {b["name"]: b for b in data["points"][1]["budget"]}
    assert parts["axial uniformity"]["sensitivity"] == pytest.approx(0.38, rel=0.03)          # dR/dt, Ω/°C
    written = render(load(tmp_path / "labd.sqlite", "thermometer-calibration-1"), config.lab, "en",
                     tmp_path / "out", ("html",))
    dcc = next(p for p in written if p.suffix == ".xml")
    schema.validate(str(dcc))
    quantities = ET.parse(dcc).getroot().findall(".//dcc:result//dcc:quantity", NS)
    units = [q.find(".//si:unitXMLList", NS).text for q in quantities]
    assert units == ["\\degreecelsius", "\\degreecelsius", "\\ohm", "\\ohm"]
    html = next(p for p in written if p.suffix == ".html").read_text()
    assert "Callendar–Van Dusen coefficients" in html and "Resistance (Ω)" in html and "Ω/°C" in html
    assert "Callendar&#39;s form" in html or "Callendar's form" in html
    assert re.search(r"α = 0\.0038[45]\d* °C⁻¹", html) and re.search(r"δ = 1\.[45]\d*", html)
    assert "β =" not in html                                                   # no β without C
    # Where the coefficients hold, and what they alone contribute to a temperature computed with them.
    low, high = data["cvd"]["range"]["low"], data["cvd"]["range"]["high"]
    assert low == pytest.approx(0.0, abs=0.5) and high == pytest.approx(100.0, abs=0.5)
    assert 0 < data["cvd"]["interpolation_standard_uncertainty"] < 0.05
    assert f"valid over the calibrated range, {low:.2f} °C to {high:.2f} °C" in html
    # A channel left in °C when resistance is asked for is refused with one line.
    async with simulated(speed=400) as (config, instruments, lab, standards):
        with pytest.raises(RunFailed, match="reads in °C, but uut_reads is resistance"):
            await run_procedure("thermometer-calibration", {"set_points": "0,50,100", "repetitions": "3",
                                                            "uut_reads": "resistance"},
                                lab=lab, instruments=instruments, standards=standards, config=config)
