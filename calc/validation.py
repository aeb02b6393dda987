"""Software validation of calc (the lab's software-validation SOP): every shipped reference case is run through
the same code paths as `labd calc …`, and each published number is compared at the tolerance the case states.

A case is a folder under `calc/reference_cases/` with `case.toml` (source, where the numbers were read, their
confidence, the rounding convention, and the checks) and the input files the checks run, in the CLI's formats.
A check names a command, its input file, optional arguments, and the expected numbers by JSON path:
`value`, `budget[l_s].contribution`, `outputs.R.standard_uncertainty`, `predictions[30].value`,
`coefficients.1`, `participants[lab A].z`, `at[200.0].expanded_uncertainty` (a list element is selected by its `name`, `participant`, `x` or `R`). Tolerances are absolute (`tolerance`), relative (`relative`) or
in NIST's log relative error (`lre`, the number of digits that must agree).
"""
from __future__ import annotations

import hashlib
import json
import platform
import re
import tomllib
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from . import commands
from .files import CalcFileError
from .stats import log_relative_error

CASES_DIR = Path(__file__).parent / "reference_cases"
_SEGMENT = re.compile(r"^([^\[\]]*)(?:\[(.+)\])?$")


def lookup(data, path: str):
    """Follow a dotted path with [key] selectors (a list element whose name/participant/x equals key)."""
    node = data
    for segment in re.split(r"\.(?![^\[]*\])", path):  # dots inside [..] belong to the selector
        m = _SEGMENT.match(segment)
        if not m:
            raise KeyError(path)
        key, select = m.groups()
        if key:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if select is not None:
            node = next(e for e in node if any(
                str(e.get(f)) == select or (isinstance(e.get(f), (int, float)) and _same_number(e.get(f), select))
                for f in ("name", "participant", "x", "R")))
    return node


def _same_number(value: float, text: str) -> bool:
    try:
        return float(text) == float(value)
    except ValueError:
        return False


def _compare(actual: float, expect: dict) -> tuple[bool, str]:
    expected = float(expect["value"])
    if "lre" in expect:
        lre = log_relative_error(actual, expected)
        return lre >= float(expect["lre"]), f"LRE {lre:.1f} ≥ {expect['lre']}"
    if "relative" in expect:
        tol = float(expect["relative"]) * abs(expected)
        return abs(actual - expected) <= tol, f"relative {expect['relative']}"
    tol = float(expect["tolerance"])
    return abs(actual - expected) <= tol, f"± {tol:g}"


def calc_source_hash() -> str:
    h = hashlib.sha256()
    for p in sorted(Path(__file__).parent.rglob("*.py")):
        h.update(p.relative_to(Path(__file__).parent).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def run_case(folder: Path) -> dict:
    try:
        meta = tomllib.loads((folder / "case.toml").read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        return {"id": folder.name, "title": "", "source": "", "read_in": [], "confidence": "", "convention": "",
                "checks": [{"command": "", "input": "case.toml", "path": "", "expected": None, "tolerance": None,
                            "passed": False, "error": f"case.toml is not valid TOML: {exc}"}], "passed": False}
    checks = []
    for check in meta.get("check", []):
        command, input_file = check["command"], folder / check["input"]
        try:
            result = commands.COMMANDS[command](input_file, **check.get("args", {}))
            error = None
        except (CalcFileError, ValueError) as exc:
            result, error = None, str(exc)
        for expect in check.get("expect", []):
            row = {"command": command, "input": check["input"], "path": expect["path"],
                   "expected": expect["value"], "published": expect.get("published", ""),
                   "where": expect.get("where", ""),
                   "tolerance": expect.get("tolerance", expect.get("relative", expect.get("lre")))}
            if error is not None:
                row.update(passed=False, error=error)
            else:
                try:
                    found = lookup(result, expect["path"])
                    if isinstance(expect["value"], str):       # a date or a statement: the same words
                        ok, rule = str(found) == expect["value"], "the same text"
                        row.update(actual=str(found), passed=ok, rule=rule)
                    else:
                        number = float(found)
                        ok, rule = _compare(number, expect)
                        row.update(actual=number, passed=ok, rule=rule)
                except (KeyError, IndexError, StopIteration, TypeError, ValueError) as exc:
                    row.update(passed=False, error=f"no such result path, or not a number there ({exc!r})")
            checks.append(row)
    return {"id": meta["id"], "title": meta.get("title", ""), "source": meta["source"],
            "read_in": meta.get("read_in", []), "confidence": meta.get("confidence", ""),
            "convention": meta.get("convention", ""), "checks": checks,
            "passed": bool(checks) and all(c["passed"] for c in checks)}


def run_cases(directory: Path | None = None) -> dict:
    directory = directory or CASES_DIR
    folders = sorted(p.parent for p in directory.glob("*/case.toml"))
    if not folders:
        raise FileNotFoundError(f"no reference cases (*/case.toml) in {directory}")
    cases = [run_case(f) for f in folders]
    try:
        version = metadata.version("labd")
    except metadata.PackageNotFoundError:
        version = "unknown"
    from labd.about import commit, installed_versions, lock_digest
    return {
        "software": {"name": "labd calc", "version": version, "commit": commit(), "calc_sha256": calc_source_hash(),
                     "lock_sha256": lock_digest(), "dependencies": installed_versions(),
                     "python": platform.python_version(), "platform": platform.platform()},
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "conventions": "Intermediate values are never rounded; ν_eff is truncated to the integer below before k "
                       "is taken from Student's t (GUM G.4.1). Where a publication rounded its intermediates, "
                       "the case says so and its tolerance covers the difference.",
        "cases": cases,
        "checks": sum(len(c["checks"]) for c in cases),
        "failed": sum(not ch["passed"] for c in cases for ch in c["checks"]),
        "passed": all(c["passed"] for c in cases),
    }


def write_report(report: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "validation-report.json"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    env.filters["num"] = lambda v: "—" if v is None else (f"{v:.10g}" if isinstance(v, float) else str(v))
    html_path = out / "validation-report.html"
    html_path.write_text(env.get_template("validation-report.html.j2").render(r=report), encoding="utf-8")
    return [html_path, json_path]

