"""Draft calibration certificate (HTML) from a finished thermometer calibration. PDF and Indonesian: issue 6."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from procedures.results import decimals_of

TEMPLATES = Path(__file__).resolve().parent / "templates"


def render_certificate(*, run_id: str, lab, outcome, standards, operator: str, started: float, simulated: bool,
                       procedure: str, version: str) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    rows = []
    for r in outcome.results:
        value, U = r.reported()
        decimals = decimals_of(U)
        rows.append({"nominal": f"{r.nominal:g}", "reference": f"{r.reference_mean:.{decimals}f}",
                     "reading": f"{r.uut_mean:.{decimals}f}", "correction": value, "U": U, "k": f"{r.k:.2f}"})
    temps = [a.value for a in outcome.ambient if a.quantity == "temperature"]
    hums = [a.value for a in outcome.ambient if a.quantity == "humidity"]
    environment = "not recorded"
    if temps:
        environment = f"temperature {min(temps):.1f} … {max(temps):.1f} °C"
        if hums:
            environment += f", relative humidity {min(hums):.0f} … {max(hums):.0f} %RH"
    coverage = outcome.results[0].budget.coverage * 100 if outcome.results else 95.45
    return env.get_template("certificate.html.j2").render(
        run_id=run_id, lab=lab, p=outcome.parameters, procedure=procedure, version=version, operator=operator,
        date=datetime.fromtimestamp(started, timezone.utc).date().isoformat(), environment=environment,
        simulated=simulated, standards=standards, results=rows, coverage=f"{coverage:g}")
