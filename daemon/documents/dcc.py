"""The Digital Calibration Certificate (PTB DCC 3.3.0, units in D-SI 2.2.1) of a calibration, from the same
record and the same context as the PDF: what a person reads and what a machine reads say the same.

A draft's `uniqueIdentifier` is `DRAFT-<run id>` and it carries a statement saying it is not valid; an issued
one carries the certificate number, the issue date, the signers, and — when it replaces an earlier one —
`reportAmendedSubstituted` (ISO/IEC 17025 7.8.8). Element order follows the schema's sequences (checked by
the tests against the schema). Values are the certificate's reported (rounded) numbers, in D-SI units.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from labd import __version__ as VERSION

DCC, SI = "https://ptb.de/dcc", "https://ptb.de/si"
ET.register_namespace("dcc", DCC)
ET.register_namespace("si", SI)
D_SI_UNITS = {"°C": "\\degreecelsius", "K": "\\kelvin", "g": "\\gram", "kg": "\\kilogram", "V": "\\volt",
              "A": "\\ampere", "Ω": "\\ohm", "%": "\\percent"}
LANGS = ("en", "id")


def _d(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    e = ET.SubElement(parent, f"{{{DCC}}}{tag}", attrs)
    if text is not None:
        e.text = text
    return e


def _s(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    e = ET.SubElement(parent, f"{{{SI}}}{tag}")
    if text is not None:
        e.text = text
    return e


def _text(parent: ET.Element, tag: str, texts: dict[str, str]) -> ET.Element:
    """A text in each language it is given in (dcc:content lang=…)."""
    e = _d(parent, tag)
    for lang, value in texts.items():
        if value:
            _d(e, "content", value, lang=lang)
    return e


def _number(text: str) -> str:
    """A reported number as D-SI wants it: a decimal point, an ASCII minus, no spaces."""
    return text.replace("−", "-").replace(",", ".").replace(" ", "")


def _location(parent: ET.Element, address: str, country: str = "ID") -> None:
    loc = _d(parent, "location")
    if address:
        further = _d(loc, "further")
        _d(further, "content", address, lang="en")
    _d(loc, "countryCode", country)


def build(contexts: dict[str, dict[str, Any]], review: dict[str, Any], units: tuple[str, ...]) -> bytes:
    """`contexts`: the certificate's context per language (reports.certificate_context), `review` its review
    state as the documents show it, `units` the unit of each of the table's four columns."""
    en = contexts["en"]
    both = {lang: contexts[lang] for lang in LANGS if lang in contexts}
    run, p, lab, item = en["run"], en["p"], en["lab"], en["item"]
    root = ET.Element(f"{{{DCC}}}digitalCalibrationCertificate", {"schemaVersion": "3.3.0"})
    admin = _d(root, "administrativeData")
    software = _d(_d(admin, "dccSoftware"), "software")
    _text(software, "name", {"en": "labd"})
    _d(software, "release", VERSION)

    core = _d(admin, "coreData")
    _d(core, "countryCodeISO3166_1", "ID")
    for lang in both:
        _d(core, "usedLangCodeISO639_1", lang)
    _d(core, "mandatoryLangCodeISO639_1", "en")
    _d(core, "uniqueIdentifier", review["number"] or f"DRAFT-{run.run_id}")
    identifications = _d(core, "identifications")
    ident = _d(identifications, "identification")
    _d(ident, "issuer", "calibrationLaboratory")
    _d(ident, "value", run.run_id)
    _text(ident, "name", {"en": "Run in the laboratory's records", "id": "Pengukuran dalam rekaman laboratorium"})
    if p.get("received"):
        _d(core, "receiptDate", p["received"])
    first, _, last = en["calibrated_on"].partition(" – ")
    _d(core, "beginPerformanceDate", first)
    _d(core, "endPerformanceDate", last or first)
    _d(core, "performanceLocation", "laboratory")
    if review["authorised"]:
        _d(core, "issueDate", review["authorised"]["time"][:10])
    if review.get("replaced"):
        changed = _d(core, "reportAmendedSubstituted")
        _d(changed, "typeOfChange", "substituted")
        _d(changed, "replacedUniqueIdentifier", review["replaced"])

    items = _d(admin, "items")
    it = _d(items, "item")
    _text(it, "name", {lang: c["item"]["description"] for lang, c in both.items()})
    if p.get("uut_manufacturer") or item["manufacturer"] not in (en["w"]["not_stated"], ""):
        _text(_d(it, "manufacturer"), "name", {"en": item["manufacturer"]})
    if item["model"] and item["model"] != en["w"]["not_stated"]:
        _d(it, "model", item["model"])
    ids = _d(it, "identifications")
    serial = _d(ids, "identification")
    _d(serial, "issuer", "manufacturer")
    _d(serial, "value", item["serial"] if item["serial"] else "unknown")
    _text(serial, "name", {"en": "Serial number", "id": "Nomor seri"})

    laboratory = _d(_d(admin, "calibrationLaboratory"), "contact")
    _text(laboratory, "name", {"en": lab.name})
    _location(laboratory, lab.address)

    persons = _d(admin, "respPersons")
    names = en["names"]
    people = [(run.operator, "operator", False)]
    if review["checked"]:
        people.append((review["checked"]["id"], "checked", False))
    if review["authorised"]:
        people.append((review["authorised"]["id"], "authorised", True))
    for who, role, main in people:
        resp = _d(persons, "respPerson")
        _text(_d(resp, "person"), "name", {"en": names.get(who, who)})
        _d(resp, "role", role)
        if main:
            _d(resp, "mainSigner", "true")

    customer = _d(admin, "customer")
    _text(customer, "name", {"en": p.get("customer") or en["w"]["not_stated"]})
    _location(customer, p.get("customer_address") or "")

    statements = _d(admin, "statements")
    for key in ("relate_only", "reproduction"):
        st = _d(statements, "statement")
        _text(st, "declaration", {lang: c["w"][key] for lang, c in both.items()})
    st = _d(statements, "statement")
    _d(st, "traceable", "true")
    _text(st, "declaration", {lang: c["traceability"] for lang, c in both.items()})
    if not review["issued"]:
        st = _d(statements, "statement")
        _text(st, "declaration", {lang: c["w"]["draft"] for lang, c in both.items()})
        _d(st, "valid", "false")

    results = _d(_d(root, "measurementResults"), "measurementResult")
    _text(results, "name", {lang: c["title"] for lang, c in both.items()})
    method = _d(_d(results, "usedMethods"), "usedMethod")
    _text(method, "name", {lang: c["method"] for lang, c in both.items()})
    _d(method, "reference", f"labd procedure {run.procedure} version {run.version}")
    equipment = _d(results, "measuringEquipments")
    for s in en["standards"]:
        eq = _d(equipment, "measuringEquipment")
        _text(eq, "name", {"en": s.get("description") or s["standard"]})
        ids = _d(eq, "identifications")
        for issuer, value, label in (("manufacturer", s["serial_number"], "Serial number"),
                                     ("other", s["certificate"], "Calibration certificate")):
            i = _d(ids, "identification")
            _d(i, "issuer", issuer)
            _d(i, "value", value)
            _text(i, "name", {"en": label})
    for e in en["equipment"]:
        eq = _d(equipment, "measuringEquipment")
        _text(eq, "name", {"en": f"{e['instrument']}: {e['identity']}" if e["identity"] else e["instrument"]})
        if e["serial"] != "—":
            i = _d(_d(eq, "identifications"), "identification")
            _d(i, "issuer", "manufacturer")
            _d(i, "value", e["serial"])
    result = _d(_d(results, "results"), "result")
    _text(result, "name", {lang: c["w"]["results"] for lang, c in both.items()})
    data_list = _d(_d(result, "data"), "list")
    rows = en["rows"]
    columns = {lang: c["columns"] for lang, c in both.items()}
    for index in range(4):          # nominal, reference, reading, result (with its U)
        q = _d(data_list, "quantity")
        _text(q, "name", {lang: cols[index] for lang, cols in columns.items()})
        values = _s(q, "realListXMLList")
        _s(values, "valueXMLList", " ".join(_number(r[index]) for r in rows))
        _s(values, "unitXMLList", D_SI_UNITS.get(units[index], units[index]))
        if index == 3:
            mu = _s(_s(values, "measurementUncertaintyUnivariateXMLList"), "expandedMUXMLList")
            _s(mu, "valueExpandedMUXMLList", " ".join(_number(r[4]) for r in rows))
            _s(mu, "coverageFactorXMLList", " ".join(_number(r[5]) for r in rows))
            _s(mu, "coverageProbabilityXMLList", " ".join(f"{float(r[6]) / 100:g}" for r in rows))
            _s(mu, "distributionXMLList", "normal")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
