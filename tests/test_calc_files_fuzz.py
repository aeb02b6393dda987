"""Every calc command on mutated copies of the shipped reference cases' inputs (a key dropped, a value replaced by
0, −1, 1e308, a string, an empty list, a table, …): each gives a result or a CalcFileError naming the file,
never another exception, and never a result with NaN or infinity in it. Seeded, so a failure repeats."""
from __future__ import annotations

import copy
import datetime
import json
import math
import random
import tomllib
from pathlib import Path

import pytest

from labd.calc.commands import COMMANDS
from labd.calc.files import CalcFileError
from labd.calc.validation import CASES_DIR

REPLACEMENTS = [0, -1, 1e308, -1e-300, 1e-320, 10 ** 30, "", "x", [], [0], [1, 2, 3], True, {}, "2026-13-45"]


def _toml(value) -> str:
    """Enough of a TOML writer for these files: every table inline."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else
                                                          ("inf" if value > 0 else "-inf"))
    if isinstance(value, (int, str)):
        return json.dumps(value) if isinstance(value, str) else str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _places(data, prefix=()):
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        yield prefix + (key,)
        yield from _places(value, prefix + (key,))


def _mutate(data: dict, rng: random.Random) -> dict:
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 2)):
        places = list(_places(data))
        if not places:
            break
        *parent_path, last = rng.choice(places)
        parent = data
        for key in parent_path:
            parent = parent[key]
        if rng.random() < 0.3:
            del parent[last]
        else:
            parent[last] = copy.deepcopy(rng.choice(REPLACEMENTS))
    return data


def _inputs() -> list[tuple[str, Path, dict]]:
    found = []
    for case in sorted(CASES_DIR.glob("*/case.toml")):
        for check in tomllib.loads(case.read_text(encoding="utf-8")).get("check", []):
            path = case.parent / check["input"]
            if path.suffix == ".toml":
                args = dict(check.get("args", {}))
                if "mc" in args:
                    args["mc"] = 2000                   # the Monte Carlo's size is not what is tested here
                found.append((check["command"], path, args))
    return found


@pytest.mark.parametrize("seed", range(4))
def test_mutated_inputs_give_a_result_or_one_named_refusal(tmp_path, seed):
    rng = random.Random(seed)
    inputs = _inputs()
    assert {command for command, _, _ in inputs} >= {"budget", "fit", "cvd", "interval", "weighing", "titration"}
    for trial in range(150):
        command, source, args = rng.choice(inputs)
        data = _mutate(tomllib.loads(source.read_text(encoding="utf-8")), rng)
        path = tmp_path / f"{seed}-{trial}-{source.name}"
        path.write_text("\n".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in data.items()) + "\n")
        try:
            result = COMMANDS[command](path, **args)
        except CalcFileError as exc:
            assert str(path) in str(exc)
            continue
        text = json.dumps(result, allow_nan=True)
        assert "NaN" not in text and "Infinity" not in text, (command, path.read_text())
