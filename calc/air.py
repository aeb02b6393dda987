"""Air density by the CIPM-2007 formula (A. Picard, R. S. Davis, M. Gläser, K. Fujii, Metrologia 45 (2008)
149–155), and the buoyancy of weights used in conventional mass (OIML D 28; EURAMET cg-18 v4.0 7.1.2).

ρ_a = p M_a / (Z R T) · [1 − x_v (1 − M_v/M_a)], with the enhancement factor f, the saturation vapour pressure
p_sv and the compressibility Z as the paper gives them. The formula's own relative standard uncertainty is
22 × 10⁻⁶; the uncertainties of t, h and p are propagated by the formula's derivatives.
"""
from __future__ import annotations

import math

RHO_0 = 1.2            # kg/m³, the reference air density of conventional mass
RHO_C = 8000.0         # kg/m³, the reference density of conventional mass
FORMULA_RELATIVE = 22e-6
# OIML R 111-1:2004 Table 5, density limits of weights (kg/m³) of classes E1, E2, F1, F2 for nominal values of
# 100 g and more, 50 g and 20 g, as read; a load below 20 g takes the 20 g row, a load made of pieces the row of
# its smallest piece (the widest limits: conservative).
DENSITY_LIMITS = {
    100.0: {"E1": (7934, 8067), "E2": (7810, 8210), "F1": (7390, 8730), "F2": (6400, 10700)},
    50.0: {"E1": (7920, 8080), "E2": (7740, 8280), "F1": (7270, 8870), "F2": (6000, 12000)},
    20.0: {"E1": (7890, 8110), "E2": (7640, 8400), "F1": (6960, 9410), "F2": (4800, 24000)},
}


def air_density(t: float, h: float, p: float, x_co2: float = 0.0004) -> float:
    """ρ_a in kg/m³ from the temperature t (°C), the relative humidity h (0…1) and the pressure p (Pa)."""
    if not (-20 <= t <= 60 and 0 <= h <= 1 and 50_000 <= p <= 120_000):
        raise ValueError(f"air density: t = {t:g} °C, h = {h:g}, p = {p:g} Pa outside the formula's range "
                         "(15…27 °C and 60…110 kPa validated; −20…60 °C and 50…120 kPa accepted)")
    big_t = t + 273.15
    p_sv = math.exp(1.2378847e-5 * big_t ** 2 - 1.9121316e-2 * big_t + 33.93711047 - 6.3431645e3 / big_t)
    f = 1.00062 + 3.14e-8 * p + 5.6e-7 * t ** 2
    x_v = h * f * p_sv / p
    z = (1 - p / big_t * (1.58123e-6 - 2.9331e-8 * t + 1.1043e-10 * t ** 2 + (5.707e-6 - 2.051e-8 * t) * x_v
                          + (1.9898e-4 - 2.376e-6 * t) * x_v ** 2)
         + (p / big_t) ** 2 * (1.83e-11 - 0.765e-8 * x_v ** 2))
    m_a = (28.96546 + 12.011 * (x_co2 - 0.0004)) * 1e-3
    m_v = 18.01528e-3
    return p * m_a / (z * 8.314472 * big_t) * (1 - x_v * (1 - m_v / m_a))


def air_density_uncertainty(t: float, h: float, p: float, u_t: float, u_h: float, u_p: float) -> float:
    """Standard uncertainty of ρ_a: the formula's own, and t, h and p through its derivatives (uncorrelated)."""
    rho = air_density(t, h, p)
    terms = [FORMULA_RELATIVE * rho]
    for index, (step, u) in enumerate(((0.01, u_t), (0.001, u_h), (1.0, u_p))):
        args = [t, h, p]
        args[index] += step
        terms.append((air_density(*args) - rho) / step * u)
    return math.sqrt(sum(x * x for x in terms))


def density_limits(weight_class: str, smallest_piece: float) -> tuple[float, float]:
    row = next((DENSITY_LIMITS[n] for n in sorted(DENSITY_LIMITS, reverse=True) if smallest_piece >= n),
               DENSITY_LIMITS[20.0])
    if weight_class not in row:
        raise ValueError(f"weight class {weight_class!r}: one of {', '.join(row)}")
    return row[weight_class]


def buoyancy(rho_a: float, u_rho_a: float, weight_class: str, smallest_piece: float) -> tuple[float, float]:
    """The relative correction to a conventional mass for the air density at weighing, and its standard
    uncertainty (cg-18 v4.0 7.1.2, weights of unknown density within their class, ρ taken as ρ_c):
    δ = −(ρ_a − ρ_0)(1/ρ − 1/ρ_c) = 0, u²(δ) = [(ρ_a − ρ_0)² + u²(ρ_a)] u²(ρ)/ρ⁴ + (1/ρ − 1/ρ_c)² u²(ρ_a).
    Without a measured air density, the documented bound: ρ_a = ρ_0 with u(ρ_a) = 0.12/√3 kg/m³ (within ±10 %
    of ρ_0, cg-18 7.1.2)."""
    low, high = density_limits(weight_class, smallest_piece)
    u_rho = (high - low) / (2 * math.sqrt(3))
    rho = RHO_C
    spread = (rho_a - RHO_0) ** 2 + u_rho_a ** 2
    return 0.0, math.sqrt(spread * u_rho ** 2 / rho ** 4 + (1 / rho - 1 / RHO_C) ** 2 * u_rho_a ** 2)


BOUND = (RHO_0, 0.1 * RHO_0 / math.sqrt(3))    # ρ_a and u(ρ_a) when the air density is not measured
