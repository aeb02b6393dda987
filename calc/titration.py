"""Standardisation of a solution by titration against a weighed primary standard (EURACHEM/CITAC QUAM A2).

Model: c = R · 1000 · m · P / (M · V) mol/L, and the normality N = z · c for z equivalents per mole, with
  m = m_net + δ_gross − δ_tare    mass of the primary standard in g; the balance's linearity error enters
                                  twice, once in the tare and once in the gross weighing (rectangular)
  P                               purity as a mass fraction (rectangular half-width from the certificate)
  M = Σ n_i A_i                   molar mass from the formula and the atomic weights (rectangular, IUPAC ranges)
  V = V_T + δ_cal + δ_temp        titrant volume in mL: burette calibration (triangular) and temperature
  R                               repeatability, a relative factor ≈ 1 with the relative standard deviation
The budget is computed by the general GUM engine on this model, so every elementary input appears in it.
"""
from __future__ import annotations

import math

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .expression import parse
from .gum import GumResult, Input, propagate

# IUPAC 2005 standard atomic weights with their stated ranges, as used by QUAM (3rd ed.); a file may
# override any of them. Half-widths are treated as rectangular (QUAM A2.4).
ATOMIC_WEIGHTS: dict[str, tuple[float, float]] = {
    "H": (1.00794, 0.00007), "C": (12.0107, 0.0008), "N": (14.0067, 0.0002), "O": (15.9994, 0.0003),
    "Na": (22.98976928, 0.00000002), "Mg": (24.3050, 0.0006), "P": (30.973762, 0.000002),
    "S": (32.065, 0.005), "Cl": (35.453, 0.002), "K": (39.0983, 0.0001), "Ca": (40.078, 0.004),
    "B": (10.811, 0.007), "As": (74.92160, 0.00002),
}

_TOKEN = re.compile(r"([A-Z][a-z]?|\(|\)|\d+)")


def parse_formula(formula: str) -> dict[str, int]:
    """'C8H5KO4' → {'C': 8, 'H': 5, 'K': 1, 'O': 4}; parentheses allowed: '(NH4)2SO4'."""
    tokens = _TOKEN.findall(formula)
    if "".join(tokens) != formula or not tokens:
        raise ValueError(f"cannot read the chemical formula {formula!r}")
    stack: list[dict[str, int]] = [{}]
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        count = 1
        if i < len(tokens) and tokens[i].isdigit():
            count = int(tokens[i])
            i += 1
        if tok == "(":
            if count != 1:
                raise ValueError(f"misplaced number in {formula!r}")
            stack.append({})
        elif tok == ")":
            if len(stack) == 1:
                raise ValueError(f"unbalanced parentheses in {formula!r}")
            group = stack.pop()
            for el, n in group.items():
                stack[-1][el] = stack[-1].get(el, 0) + n * count
        elif tok.isdigit():
            raise ValueError(f"misplaced number in {formula!r}")
        else:
            stack[-1][tok] = stack[-1].get(tok, 0) + count
    if len(stack) != 1:
        raise ValueError(f"unbalanced parentheses in {formula!r}")
    return stack[0]


@dataclass(frozen=True)
class Titration:
    formula: str
    mass: float                              # net mass of the primary standard, g
    purity: float
    purity_half_width: float
    volume: float                            # mean titrant volume, mL
    linearity_half_width: float = 0.0        # balance linearity, g (rectangular, enters twice)
    mass_uncertainty: float = 0.0            # any further standard uncertainty of m, g
    volume_calibration_half_width: float = 0.0   # burette tolerance, mL (triangular)
    volume_temperature_uncertainty: float = 0.0  # standard, mL
    repeatability: float = 0.0               # relative standard deviation of the titration
    equivalents: int = 1
    atomic_weights: Mapping[str, tuple[float, float]] | None = None
    # ν of the repeatability: n − 1 when it is the standard deviation of the mean of this run's n replicates
    # (GUM 4.2.6); infinite only when it comes from a long validation study.
    repeatability_dof: float = math.inf


def standardise(t: Titration, coverage: float = 0.9545) -> tuple[GumResult, dict]:
    counts = parse_formula(t.formula)
    weights = dict(ATOMIC_WEIGHTS)
    weights.update(t.atomic_weights or {})
    unknown = [el for el in counts if el not in weights]
    if unknown:
        raise ValueError(f"no atomic weight for {', '.join(unknown)}: add it under [atomic_weights]")
    if t.equivalents < 1:
        raise ValueError("equivalents must be a whole number ≥ 1")
    molar = " + ".join(f"{n}*A_{el}" for el, n in counts.items())
    model = parse(f"m = m_net + d_gross - d_tare + d_m\n"
                  f"M = {molar}\n"
                  f"V = V_T + d_cal + d_temp\n"
                  f"c = R*1000*m*P/(M*V)\n"
                  f"N = {t.equivalents}*c", outputs=["c", "N"])
    inputs = [
        Input("m_net", t.mass, 0.0), Input("d_m", 0.0, t.mass_uncertainty),
        Input.from_half_width("d_gross", 0.0, t.linearity_half_width, "rectangular"),
        Input.from_half_width("d_tare", 0.0, t.linearity_half_width, "rectangular"),
        Input.from_half_width("P", t.purity, t.purity_half_width, "rectangular"),
        Input("V_T", t.volume, 0.0),
        Input.from_half_width("d_cal", 0.0, t.volume_calibration_half_width, "triangular"),
        Input("d_temp", 0.0, t.volume_temperature_uncertainty),
        Input("R", 1.0, t.repeatability, t.repeatability_dof),
        *(Input.from_half_width(f"A_{el}", weights[el][0], weights[el][1], "rectangular") for el in counts),
    ]
    result = propagate(model, inputs, coverage=coverage)
    extra = {"molar_mass": float(sum(n * weights[el][0] for el, n in counts.items())),
             "formula": counts, "equivalents": t.equivalents}
    return result, extra
