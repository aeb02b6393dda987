"""The layers of ARCHITECTURE.md, checked from the source: each imports only what lies below it, SQL lives only
in the records package, and procedures never load the simulators."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from .conftest import REPO

# package (as a folder) → labd modules it must not import
FORBIDDEN = {
    "drivers": ("labd.daemon", "labd.procedures", "labd.simulators", "labd.calc"),
    "calc": ("labd.daemon", "labd.procedures", "labd.simulators", "labd.drivers"),
    "procedures": ("labd.daemon", "labd.simulators"),
    "simulators": ("labd.daemon",),
    "daemon/config": ("labd.daemon.cli", "labd.daemon.service", "labd.daemon.engine", "labd.daemon.documents",
                      "labd.daemon.records"),
    "daemon/records": ("labd.daemon.cli", "labd.daemon.service", "labd.daemon.engine", "labd.daemon.documents",
                       "labd.procedures", "labd.simulators"),
    "daemon/engine": ("labd.daemon.cli", "labd.daemon.service", "labd.daemon.documents"),
    "daemon/documents": ("labd.daemon.cli", "labd.daemon.service", "labd.daemon.engine", "labd.simulators"),
    "daemon/service": ("labd.daemon.cli",),
}


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
    return found


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_lies_below_it(folder):
    offences = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for module in imports(path):
            if module.startswith(FORBIDDEN[folder]):
                offences.append(f"{path.relative_to(REPO)} imports {module}")
    assert not offences, "\n".join(offences)


def test_nothing_imports_the_old_top_level_names():
    """Every import goes through `labd.…`: a bare `daemon` would be python-daemon's."""
    old = re.compile(r"^(daemon|drivers|procedures|calc|simulators|config)(\.|$)")
    offences = []
    for folder in ("labd", "daemon", "drivers", "procedures", "calc", "simulators", "tests", "bench"):
        for path in sorted((REPO / folder).rglob("*.py")):
            offences += [f"{path.relative_to(REPO)}: {m}" for m in imports(path) if old.match(m)]
    assert not offences, "\n".join(offences)


def test_sql_lives_only_in_the_records_package():
    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b.*\b(FROM|INTO|SET)\b|\.execute\(|sqlite3")
    offences = []
    for folder in ("labd", "daemon", "drivers", "procedures", "calc", "simulators"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path.is_relative_to(REPO / "daemon" / "records"):
                continue
            offences += [f"{path.relative_to(REPO)}:{i}" for i, line in enumerate(path.read_text().splitlines(), 1)
                         if sql.search(line)]
    assert not offences, "\n".join(offences)
