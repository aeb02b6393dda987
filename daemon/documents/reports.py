"""Documents from the record, in HTML and PDF (WeasyPrint), in English or Indonesian: the draft calibration
certificate, the intermediate-check report, the solution standardisation report and the stability run report.

Everything comes from the records database (run, resolved parameters, `standard_used` events, ambient readings,
results), never from files a run left behind, so a document can always be produced again and matches the
record. Charts are drawn with matplotlib and embedded as images.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from jinja2 import Environment, FileSystemLoader, select_autoescape

from labd.calc.budget import decimals_of, round_result
from labd.daemon.records import RecordsError, RecordsReader, Review, RunSummary, content_digest, review

from .budgets import annex
from .charts import control_chart, drift_plot, series_plot
from .validation import validation_context
from .words import localise, translated, words

TEMPLATES = Path(__file__).resolve().parent / "templates"
CALIBRATIONS = ("thermometer-calibration", "balance-calibration", "dmm-calibration")
CHECKS = ("equipment-check", "working-standard-check")


class ReportError(Exception):
    pass


@dataclass
class RunRecord:
    summary: RunSummary            # its `resolved` with the amendments applied
    readings: list[dict]
    events: list[dict]
    results: Any
    amendments: list[dict] = field(default_factory=list)
    review: Review = Review("draft", None, None, None, None)


def verified(reader: RecordsReader, run_id: str) -> None:
    """No document from records that fail verification: the chain, the head and this run's rows."""
    check = reader.verify(run_id)
    if not check.ok:
        more = f" (and {len(check.problems) - 1} more)" if len(check.problems) > 1 else ""
        raise ReportError(f"the records fail verification, so no document is issued from them: "
                          f"{check.problems[0]}{more}; `labd audit verify` lists every problem")


def load(source: Path | RecordsReader, run_id: str, keys: Path | None = None) -> RunRecord:
    """The run's record from a records file, or from a reader already open (the central records' station)."""
    if isinstance(source, RecordsReader):
        return _load(source, run_id)
    with RecordsReader(source, keys) as reader:
        return _load(reader, run_id)


def _load(reader: RecordsReader, run_id: str) -> RunRecord:
    summary = reader.run(run_id)
    if summary.state != "completed":
        raise ReportError(f"run {run_id} is {summary.state}: documents are made from completed runs only")
    verified(reader, run_id)
    results = [r for r in reader.results(run_id) if r["kind"] == "results"]
    amendments = reader.amendments(run_id)
    # The document shows each field as amended, and lists the amendments (ISO/IEC 17025 7.5.2, 7.8.8).
    summary = replace(summary, resolved=reader.amended(run_id))
    state = review(reader.signatures(run_id), content_digest(reader, run_id))
    return RunRecord(summary, reader.readings(run_id), reader.events(run_id), results[-1]["data"], amendments,
                     state)


def _environment(readings: list[dict], w: dict[str, str]) -> str:
    ranges: dict[str, tuple[float, float]] = {}
    for r in readings:
        if r["role"] == "ambient":
            lo, hi = ranges.get(r["quantity"], (r["value"], r["value"]))
            ranges[r["quantity"]] = (min(lo, r["value"]), max(hi, r["value"]))
    parts = []
    if "temperature" in ranges:
        parts.append(f"{w['temperature']} {ranges['temperature'][0]:.1f} … {ranges['temperature'][1]:.1f} °C")
    if "humidity" in ranges:
        parts.append(f"{w['humidity']} {ranges['humidity'][0]:.0f} … {ranges['humidity'][1]:.0f} %RH")
    return ", ".join(parts) or w["not_recorded"]


def _standards(events: list[dict], lang: str = "en") -> list[dict]:
    """The standards the run relied on, described in the document's language where the register has it."""
    latest: dict[str, dict] = {}
    for e in events:
        if e["kind"] == "standard_used":
            data = e["data"]
            if lang == "id" and data.get("description_id"):
                data = {**data, "description": data["description_id"]}
            latest[data["standard"]] = data
    return list(latest.values())


# Per calibration procedure: where its rows are, the unit, the keys of the columns (first, reference, reading,
# the result as reported), the headings of the first and reading columns, the note under the table, and how many
# more decimals the reference gets than U (a weight's conventional mass is known better than the balance reads).
_CERTIFICATE_TABLES = {
    "thermometer-calibration": (None, ("°C",) * 4, ("nominal", "reference", "reading", "correction"),
                                ("nominal", "reading"), "correction_note", 0),
    "balance-calibration": ("loads", ("g",) * 4, ("nominal", "reference_mass", "indication", "error"),
                            ("load", "indication"), "error_note", 1),
    "dmm-calibration": (None, ("V",) * 4, ("nominal", "reference", "reading", "error"), ("nominal", "reading"),
                        "error_note", 0),
    # A thermometer read in resistance: R at each reference temperature, and its Callendar–Van Dusen coefficients.
    "thermometer-calibration/resistance": ("points", ("°C", "°C", "Ω", "Ω"),
                                           ("nominal", "reference", "reading", "resistance"),
                                           ("nominal", "reading"), "resistance_note", 0),
}


def table_spec(procedure: str, results: Any) -> tuple:
    """The certificate table of a run's results (a thermometer read in resistance has its own)."""
    if procedure == "thermometer-calibration" and isinstance(results, dict) and "cvd" in results:
        return _CERTIFICATE_TABLES["thermometer-calibration/resistance"]
    if procedure not in _CERTIFICATE_TABLES:
        raise ReportError(f"no certificate for procedure {procedure}")
    return _CERTIFICATE_TABLES[procedure]


def _result_table(procedure: str, results: Any, w: dict[str, str]) -> tuple[list[str], list[list[str]], float, str]:
    """Columns, rows (as reported), coverage in %, and the note under the table."""
    where, units, (k_first, k_ref, k_reading, k_result), (h_first, h_reading), note, extra = \
        table_spec(procedure, results)
    rows = results[where] if where else results
    cols = [f"{w[h_first]} ({units[0]})", f"{w['reference']} ({units[1]})", f"{w[h_reading]} ({units[2]})",
            f"{w[k_result]} ({units[3]})", f"U ({units[3]})", "k"]
    out = []
    for r in rows:
        U = r["reported"]["expanded_uncertainty"]
        d = decimals_of(U)
        ref_d = d + extra if units[1] == units[3] else 4
        out.append([f"{r[k_first]:g}", f"{r[k_ref]:.{ref_d}f}", f"{r[k_reading]:.{d}f}",
                    r["reported"][k_result], U, f"{r['k']:.2f}"])
    text = w[note]
    if isinstance(results, dict) and "cvd" in results:
        text += " " + _cvd_text(results["cvd"], w)
    if procedure == "balance-calibration":
        text += (f" {w['repeatability']}: s = {results['repeatability']['sd']:.5f} g (n = "
                 f"{results['repeatability']['n']}). {w['eccentricity']}: "
                 f"{results['eccentricity']['max_deviation']:.5f} g @ {results['eccentricity']['load']:g} g.")
        weighing = results.get("weighing")         # version 1.0 records have none
        if weighing:
            top = weighing["at"][-1]
            text += " " + w["weighing"].format(
                a=f"{weighing['slope']:.3g}", alpha=f"{weighing['alpha']:.3g}", beta=f"{weighing['beta']:.3g}",
                R=f"{top['reading']:g}", U=f"{top['expanded_uncertainty']:.2g}",
                Ugl=f"{top['global_expanded_uncertainty']:.2g}")
    return cols, out, rows[0]["coverage"] * 100, text


def _cvd_text(cvd: dict[str, Any], w: dict[str, str]) -> str:
    c, u = cvd["coefficients"], cvd["standard_uncertainties"]
    names = ("R0", "A", "B", "C") if cvd["fitted_c"] else ("R0", "A", "B")
    units = {"R0": "Ω", "A": "°C⁻¹", "B": "°C⁻²", "C": "°C⁻⁴"}
    values = "; ".join(f"{n} = {c[n]:.7g} {units[n]} (u = {u[n]:.2g} {units[n]})" for n in names)
    text = w["cvd"].format(values=values, residual=f"{cvd['residual_sd']:.2g}")
    if "range" in cvd:      # records made before it was given have no range
        text += " " + w["cvd_range"].format(low=f"{cvd['range']['low']:.2f}", high=f"{cvd['range']['high']:.2f}",
                                            U=f"{2 * cvd['interpolation_standard_uncertainty']:.2g}")
    if "callendar" in cvd:   # records made before it was given have only A, B, C
        k, uk = cvd["callendar"], cvd["callendar_standard_uncertainties"]
        forms = ("alpha", "delta", "beta") if cvd["fitted_c"] else ("alpha", "delta")
        symbol = {"alpha": "α", "delta": "δ", "beta": "β"}
        unit = {"alpha": " °C⁻¹", "delta": "", "beta": ""}
        text += " " + w["callendar"].format(values="; ".join(
            f"{symbol[n]} = {k[n]:.7g}{unit[n]} (u = {uk[n]:.2g}{unit[n]})" for n in forms))
    return text


def _date(rec: RunRecord) -> str:
    """The day of the run: of its first reading (on the run's own clock), else of its record."""
    first = min((r["time"] for r in rec.readings), default=rec.summary.created)
    return datetime.fromtimestamp(first, timezone.utc).date().isoformat()


def _latest(events: list[dict], kind: str) -> dict:
    found = [e["data"] for e in events if e["kind"] == kind]
    return found[-1] if found else {}


def _days(rec: RunRecord, lab) -> tuple[str, str]:
    """The first and last day of the measurements, in the lab's time zone."""
    from zoneinfo import ZoneInfo
    zone = ZoneInfo(getattr(lab, "timezone", "UTC"))
    times = [r["time"] for r in rec.readings] or [rec.summary.created]
    first, last = (datetime.fromtimestamp(t, zone).date().isoformat() for t in (min(times), max(times)))
    return first, last


def _item(rec: RunRecord, w: dict[str, str], lang: str) -> dict[str, str]:
    """The unit under test as the certificate names it: as it identified itself wherever it could (the `item`
    event), else as declared; described in the document's language, else as declared, else generically."""
    p, found = rec.summary.resolved, _latest(rec.events, "item")
    declared = (p.get("uut_description_id") if lang == "id" else "") or p.get("uut_description")
    return {"description": declared or w.get(f"item.{rec.summary.procedure}") or w["not_recorded"],
            "manufacturer": p.get("uut_manufacturer") or found.get("manufacturer") or w["not_stated"],
            "model": p.get("uut_model") or found.get("model") or w["not_stated"],
            "serial": found.get("serial") or p.get("uut_serial") or w["not_stated"],
            "condition": p.get("uut_condition") or w["not_recorded"]}


def _equipment(rec: RunRecord) -> list[dict[str, str]]:
    """The equipment used, as each instrument identified itself during the run."""
    identities = _latest(rec.events, "identified").get("identities", {})
    return [{"instrument": i["instrument"], "identity": ", ".join(x for x in (i["manufacturer"], i["model"]) if x),
             "serial": i["serial"] or "—"} for role, i in identities.items()
            if role not in ("multimeter", "balance")]       # the unit under test is not equipment used


def _traceability(standards: list[dict], w: dict[str, str]) -> str:
    parts = [w["traceable_one"].format(description=s.get("description") or s["standard"],
                                       serial=s["serial_number"], certificate=s["certificate"],
                                       issuer=s.get("issued_by") or w["issuer_unknown"], due=s["due"])
             for s in standards]
    return w["traceability"] + " " + " ".join(parts)


def certificate_context(rec: RunRecord, lab, lang: str) -> dict[str, Any]:
    w = words(lang)
    s, p = rec.summary, rec.summary.resolved
    cols, rows, coverage, note = _result_table(s.procedure, rec.results, w)
    where, units, keys = table_spec(s.procedure, rec.results)[:3]
    unit = units[3]
    budgets = annex(rec.results[where] if where else rec.results, keys[0], units[0], unit, lang)
    cols.append("p (%)")                  # the coverage probability of each U
    rows = [row + [f"{coverage:g}"] for row in rows]
    first, last = _days(rec, lab)
    standards = _standards(rec.events, lang)
    return {"w": w, "lang": lang, "lab": lab, "run": s, "p": p, "columns": cols, "rows": rows, "note": note,
            "statement": w["uncertainty_statement"].format(coverage=f"{coverage:g}"),
            "method": w.get(f"method.{s.procedure}", s.procedure), "date": _date(rec),
            "calibrated_on": first if first == last else f"{first} – {last}",
            "received": p.get("received") or w["not_recorded"], "item": _item(rec, w, lang),
            "equipment": _equipment(rec), "traceability": _traceability(standards, w),
            "environment": _environment(rec.readings, w), "standards": standards,
            "title": w["certificate"], "annex": budgets, "unit": unit, "units": units}


def check_context(rec: RunRecord, lab, lang: str) -> dict[str, Any]:
    w = words(lang)
    s, p, r = rec.summary, rec.summary.resolved, rec.results
    if s.procedure == "equipment-check":
        entries, unit, scale = r["checks"], "mg", 1000.0
        tolerance = p["tolerance"] * scale
        chart = r["control_chart"]
        chart = None if chart is None else {**chart, "centre": chart["centre"] * scale,
                                            "warning": [v * scale for v in chart["warning"]],
                                            "action": [v * scale for v in chart["action"]]}
        drift = r["drift_per_day"] and {**r["drift_per_day"], "slope": r["drift_per_day"]["slope"] * scale}
        verdict = (w["within_tolerance"] if r["within_tolerance"] else w["out_of_tolerance"]) + "; " + (
            w["in_control"] if chart and not chart["violations"] else
            f"{len(chart['violations'])} {w['violations']}" if chart else "—")
        recommendation = r["recommendation"] and {**r["recommendation"],
                                                  "reason": translated(r["recommendation"]["reason"], lang)}
        next_check = r["next_check"]
        origin = p["calibrated_on"]
        dec = r.get("decision")       # records made before version 1.1 stated no decision rule
        rule = "" if dec is None else w[f"rule.{dec['rule']}"].format(
            tolerance=f"{dec['tolerance'] * scale:.4g} {unit}", U=f"{dec['expanded_uncertainty'] * scale:.2g} {unit}",
            limit=f"{dec['acceptance_limit'] * scale:.4g} {unit}")
    else:
        entries, unit, scale = r["days"], "°C", 1.0
        tolerance, chart, drift, recommendation, next_check = p["criterion"], None, None, None, None
        verdict = translated(r["verdict"], lang)
        origin = entries[0]["date"]
        rule = w["rule.working-standard"].format(criterion=f"{p['criterion']:g} {unit}")
    values = [e["value"] * scale for e in entries]
    dates = [e["date"] for e in entries]
    o = datetime.fromisoformat(origin).date()
    days = [(datetime.fromisoformat(d).date() - o).days for d in dates]
    rows = [[d, f"{v:+.4f}", f"{e['sd'] * scale:.4f}", str(e["n"])] for d, v, e in zip(dates, values, entries)]
    return {"w": w, "lang": lang, "lab": lab, "run": s, "p": p, "title": w["check_report"],
            "series": r["series"], "columns": [w["check_date"], f"{w['deviation']} ({unit})", f"s ({unit})", "n"],
            "rows": rows, "verdict": verdict, "recommendation": recommendation, "next_check": next_check,
            "decision_rule": rule,
            "environment": _environment(rec.readings, w), "standards": _standards(rec.events, lang),
            "date": _date(rec),
            "control_chart": control_chart(values, dates, chart, tolerance, unit, w["control_chart"]),
            "drift_plot": drift_plot(days, values, drift, tolerance, unit, w["drift"], w, origin)}


def standardisation_context(rec: RunRecord, lab, lang: str) -> dict[str, Any]:
    w = words(lang)
    s, p, r = rec.summary, rec.summary.resolved, rec.results
    c, U = round_result(r["concentration"], r["expanded_uncertainty"])
    n, U_n = round_result(r["normality"], r["normality_expanded_uncertainty"])
    d = decimals_of(U)
    rows = [[str(i + 1), f"{x['mass']:.6g}", f"{x['volume']:.2f}", f"{x['concentration']:.{d + 1}f}"]
            for i, x in enumerate(r["replicates"])]
    total = sum(b["contribution"] ** 2 for b in r["budget"]) or 1.0
    budget = [[_input_name(b["name"], w), _INPUT_UNITS.get(b["name"], "g/mol" if b["name"].startswith("A_") else "1"),
               f"{b['value']:.6g}", f"{b['standard_uncertainty']:.2g}", f"{b['sensitivity']:.4g}",
               f"{b['contribution']:.2g}", f"{100 * b['contribution'] ** 2 / total:.1f}"]
              for b in sorted(r["budget"], key=lambda b: -b["contribution"]) if b["contribution"] > 0]
    return {"w": w, "lang": lang, "lab": lab, "run": s, "p": p, "title": w["standardisation_report"],
            "method": w["method.solution-standardisation"], "molar_mass": _molar_mass(p["formula"]),
            "date": _date(rec),
            "environment": _environment(rec.readings, w), "standards": _standards(rec.events, lang),
            "columns": [w["replicate"], f"{w['mass']} (g)", f"{w['titrant_volume']} (mL)",
                        f"{w['concentration']} (mol/L)"], "rows": rows,
            "result": {"c": c, "U": U, "N": n, "U_N": U_n, "k": f"{r['k']:.2f}",
                       "coverage": f"{100 * r['coverage']:g}"},
            # Each input has its own unit (the unit column); the sensitivity is in mol/L per that unit, the
            # contribution |c·u| in mol/L.
            "budget_columns": [w["input"], w["unit"], w["value"], "u", f"{w['sensitivity']} ({w['per_unit']})",
                               f"{w['contribution']} (mol/L)", f"{w['share']} (%)"],
            "budget": budget,
            "statement": w["uncertainty_statement"].format(coverage=f"{100 * r['coverage']:g}")}


_INPUT_UNITS = {"m_net": "g", "d_m": "g", "d_gross": "g", "d_tare": "g", "P": "1", "V_T": "mL", "d_cal": "mL",
                "d_temp": "mL", "R": "1"}


def _input_name(name: str, w: dict[str, str]) -> str:
    if name.startswith("A_"):
        return f"{name}: {w['input.A']} {name[2:]}"
    return f"{name}: {w[f'input.{name}']}" if f"input.{name}" in w else name


def _molar_mass(formula: str) -> str:
    from labd.procedures.solution_standardisation import molar_mass
    return f"{molar_mass(formula):.4f}"


def stability_context(rec: RunRecord, lab, lang: str) -> dict[str, Any]:
    w = words(lang)
    s, p, r = rec.summary, rec.summary.resolved, rec.results
    logged = [x for x in rec.readings if x["role"] == "stability"]
    t0 = logged[0]["time"]
    settling = (r.get("warm_up") or {}).get("readings", 0)     # version 1.0 records have none
    kept = [x for x in logged if x["used"]]
    used = [((x["time"] - t0) / 3600, x["value"]) for x in kept[settling:]]
    excluded = [((x["time"] - t0) / 3600, x["value"]) for x in logged if not x["used"]] + \
        [((x["time"] - t0) / 3600, x["value"]) for x in kept[:settling]]
    unit = logged[0]["unit"]
    drift = r["drift_per_hour"]
    stats = [[w["readings_used"], str(r["n"])], [w["excluded"], str(r["excluded"])],
             [w["warm_up"], w["warm_up_value"].format(n=settling, hours=f"{r['warm_up']['hours']:.2g}")
              if settling else "0"],
             [w["mean"], f"{r['mean']:.4f} {unit}"], ["s", f"{r['sd']:.4f} {unit}"],
             ["min / max", f"{r['min']:.4f} / {r['max']:.4f} {unit}"],
             [w["peak_to_peak"], f"{r['max'] - r['min']:.4f} {unit}"],
             [w["drift_per_hour"], f"{drift['slope']:+.2g} {unit}/h, u = {drift['standard_uncertainty']:.2g} "
                                   f"{unit}/h ({w['significant'] if drift['significant'] else w['not_significant']}"
                                   + (f"; {w['autocorrelation']} r₁ = {drift['autocorrelation']:.2f}"
                                      if drift.get("autocorrelation") else "") + ")"],
             [w["control_chart"], _rules(r["control_chart"]["violations"], r["n"], w)]]
    ref = r.get("reference")
    if ref:
        u = ref["correction_standard_uncertainty"]
        stats.append([w["corrected_mean"], f"{ref['corrected_mean']:.4f} {unit} ({w['u_correction']} {u:.4f} "
                                           f"{unit}, {ref['certificate']})"])
        if ref["set_point_deviation"] is not None:
            stats.append([w["set_point_deviation"], f"{ref['set_point_deviation']:+.4f} {unit}"])
    held = f"{p['source']}, {p['set_point']:g} {unit}" if p["source"] else w["none_at_set_point"]
    return {"w": w, "lang": lang, "lab": lab, "run": s, "p": p, "title": w["stability_report"],
            "thermometer": f"{p['readout']}, {w['channel']} {p['channel']}", "held": held,
            "period": f"{_time(t0)} … {_time(logged[-1]['time'])} ({p['duration_hours']:g} h, {w['interval']} "
                      f"{p['interval']:g} s)",
            "environment": _environment(rec.readings, w), "standards": _standards(rec.events, lang), "stats": stats,
            "plot": series_plot([h for h, _ in used], [v for _, v in used], excluded, r["mean"],
                                p["set_point"] if p["source"] else None, unit, w["readings"],
                                f"{w['hours']} {w['since']} {_time(t0)}")}


def _rules(violations: list[dict], n: int, w: dict[str, str]) -> str:
    """Which run rules fired, and on how many of the readings (one reading can break several rules)."""
    if not violations:
        return w["in_control"]
    rules = sorted({v["rule"] for v in violations})
    return f"{w['violations']}: {'; '.join(rules)} ({len({v['index'] for v in violations})}/{n})"


def _time(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


class Document(NamedTuple):
    template: str
    prefix: str                                     # of the file name: <prefix>-<run id>-<lang>.<html|pdf>
    context: Callable[[RunRecord, Any, str], dict[str, Any]]
    kind: str                                       # what the document is called


DOCUMENTS = {
    **{proc: Document("report-certificate.html.j2", "certificate", certificate_context, "draft certificate")
       for proc in CALIBRATIONS},
    **{proc: Document("report-check.html.j2", "check-report", check_context, "check report") for proc in CHECKS},
    "solution-standardisation": Document("report-standardisation.html.j2", "standardisation-report",
                                         standardisation_context, "standardisation report"),
    "stability-run": Document("report-stability.html.j2", "stability-report", stability_context,
                              "stability report"),
    "software-validation": Document("report-validation.html.j2", "validation-report", validation_context,
                                    "software validation report"),
}


def _amendments(rec: RunRecord, lab) -> list[dict[str, str]]:
    from zoneinfo import ZoneInfo
    zone = ZoneInfo(getattr(lab, "timezone", "UTC"))
    return [{"field": a["field"], "original": str(a["original"]) or "—", "amended": str(a["amended"]) or "—",
             "operator": a["operator"], "reason": a["reason"],
             "time": datetime.fromtimestamp(a["time"], zone).strftime("%Y-%m-%d %H:%M %Z")}
            for a in rec.amendments]


def _review(rec: RunRecord, lab, names: dict[str, str], w: dict[str, str]) -> dict[str, Any]:
    """The review state as the document shows it: DRAFT until issued; the signers' names and times."""
    from zoneinfo import ZoneInfo
    zone = ZoneInfo(getattr(lab, "timezone", "UTC"))

    def signer(row: dict | None) -> dict[str, str] | None:
        if row is None:
            return None
        when = datetime.fromtimestamp(row["time"], zone).strftime("%Y-%m-%d %H:%M %Z")
        return {"name": names.get(row["operator"], row["operator"]), "id": row["operator"], "time": when}
    r = rec.review
    certificate = rec.summary.procedure in CALIBRATIONS      # the others are reports (7.8.1.1)
    replaces = w["replaces" if certificate else "replaces_report"]
    return {"issued": r.state == "issued", "state": r.state, "number": r.number,
            "number_label": w["certificate_number" if certificate else "report_number"],
            "checked": signer(r.checked), "authorised": signer(r.authorised),
            "replaces": replaces.format(number=r.replaces) if r.replaces and r.state == "issued" else "",
            "replaced": r.replaces if r.state == "issued" else None}


def render(rec: RunRecord, lab, lang: str, out: Path, formats: tuple[str, ...] = ("html", "pdf"),
           names: dict[str, str] | None = None) -> list[Path]:
    """`names`: operator id → full name (the competence register), for the people the document names."""
    if rec.summary.procedure not in DOCUMENTS:
        raise ReportError(f"no document for procedure {rec.summary.procedure} (documents exist for "
                          f"{', '.join(DOCUMENTS)})")
    doc = DOCUMENTS[rec.summary.procedure]
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    context = doc.context(rec, lab, lang)
    html = localise(env.get_template(doc.template).render(
        **context, amendments=_amendments(rec, lab), names=names or {},
        review=_review(rec, lab, names or {}, context["w"])), lang)
    stem = f"{doc.prefix}-{rec.summary.run_id}-{lang}"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    dcc = None
    if rec.summary.procedure in CALIBRATIONS:      # the machine-readable twin: one file, both languages
        from .dcc import build
        contexts = {lg: {**doc.context(rec, lab, lg), "names": names or {}} for lg in ("en", "id")}
        dcc = out / f"dcc-{rec.summary.run_id}.xml"
        dcc.write_bytes(build(contexts, _review(rec, lab, names or {}, contexts["en"]["w"]),
                              table_spec(rec.summary.procedure, rec.results)[1]))
        written.append(dcc)
    if "html" in formats:
        written.append(out / f"{stem}.html")
        written[-1].write_text(html, encoding="utf-8")
    if "pdf" in formats:
        written.append(out / f"{stem}.pdf")
        issued = rec.review.state == "issued"
        # The issued certificate is PDF/A-3 with its DCC inside: one file for a reader and for a machine.
        html_to_pdf(html, written[-1], attachment=dcc if issued else None)
    return written


def write_documents(records: Path, run_id: str, lab, folder: Path, langs: tuple[str, ...] = ("en", "id"),
                    warn=None, keys: Path | None = None, names: dict[str, str] | None = None,
                    formats: tuple[str, ...] = ("html", "pdf")) -> list[Path]:
    """A completed run's document in each language, from the record; [] for a procedure without one.

    Without the system's Pango, WeasyPrint cannot make the PDF: the HTML is written and `warn` is told why."""
    with RecordsReader(records) as reader:        # the run's row only: most runs have no document to make
        if reader.run(run_id).procedure not in DOCUMENTS:
            return []
    rec = load(records, run_id, keys)
    written: list[Path] = []
    for lang in langs:
        try:
            written += render(rec, lab, lang, folder, formats, names=names)
        except OSError as exc:
            if warn is not None:
                warn(f"PDF not written ({exc}); install Pango (see tests/install-real-parts.sh)")
            written += render(rec, lab, lang, folder, ("html",), names=names)
    return list(dict.fromkeys(written))       # the DCC, one for both languages, once


def html_to_pdf(html: str, path: Path, attachment: Path | None = None) -> None:
    """With `attachment`, a PDF/A-3b that carries the file (the DCC) as an associated file."""
    import logging
    from weasyprint import HTML, Attachment   # imported here: it loads Pango, which only documents need
    # Its notice about font subsetting through fontTools rather than HarfBuzz is not the lab's business.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    document = HTML(string=html, base_url=str(TEMPLATES))
    if attachment is None:
        document.write_pdf(path)
        return
    document.write_pdf(path, pdf_variant="pdf/a-3b", attachments=[Attachment(
        filename=str(attachment), name=attachment.name, description="Digital Calibration Certificate (PTB DCC 3.3.0)",
        relationship="Data")])


__all__ = ["CALIBRATIONS", "CHECKS", "DOCUMENTS", "Document", "RecordsError", "ReportError", "html_to_pdf", "load",
           "render", "verified", "write_documents"]
