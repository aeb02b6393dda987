"""calc speed against GTC and the `uncertainties` package on the same model, in one run.

1. A GUM budget for each of 10 000 readings of a five-input model (each reading its own V and T):
   labd's batched propagation (one vectorised complex-step evaluation for all readings), labd one budget at
   a time, GTC (ureal arithmetic, with Welch–Satterthwaite), and `uncertainties` (ufloat arithmetic, no ν).
   The results are compared, so a fast wrong answer cannot pass.
2. Monte Carlo (JCGM 101) with 10⁶ trials of the same five-input model, with a rectangular and a
   triangular input. Neither GTC nor `uncertainties` does Monte Carlo; the baseline is the same sampling
   written directly in numpy, which shows what labd's generality costs.

Targets: batched budgets ≥ 10 × faster than GTC; 10⁶ Monte Carlo trials in < 1 s on this 2-core machine.
Run: .venv/bin/python bench/calc_speed.py   (make bench installs GTC and uncertainties)
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labd.calc import montecarlo  # noqa: E402
from labd.calc.expression import parse  # noqa: E402
from labd.calc.gum import Input, propagate, propagate_batch  # noqa: E402

MODEL = "P = V^2/(R*(1 + alpha*(T - T0)))"
N = 10_000
U = {"V": 0.002, "R": 0.01, "alpha": 2e-5, "T": 0.05, "T0": 0.0}
DOF = {"V": 9.0, "R": 50.0}


def timed(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    rng = np.random.default_rng(1)
    V, T = rng.normal(10.0, 0.01, N), rng.normal(23.0, 1.0, N)
    model = parse(MODEL)
    values = {"V": V, "R": np.full(N, 100.0), "alpha": np.full(N, 3.9e-3), "T": T, "T0": np.full(N, 20.0)}
    rows = []

    t_batch, batch = timed(lambda: propagate_batch(model, values, {k: np.full(N, u) for k, u in U.items()}, DOF), 3)
    rows.append(("labd, batched", t_batch))

    def labd_loop(n=1000):
        return [propagate(model, [Input("V", V[i], U["V"], DOF["V"]), Input("R", 100.0, U["R"], DOF["R"]),
                                  Input("alpha", 3.9e-3, U["alpha"]), Input("T", T[i], U["T"]),
                                  Input("T0", 20.0, 0.0)])["P"] for i in range(n)]
    t_loop, loop = timed(labd_loop)
    rows.append(("labd, one budget at a time", t_loop * N / 1000))

    gtc_u = unc_u = None
    try:
        import GTC

        def gtc():
            out = []
            R, a, T0 = GTC.ureal(100.0, U["R"], DOF["R"]), GTC.ureal(3.9e-3, U["alpha"]), GTC.constant(20.0)
            for i in range(N):
                v, t = GTC.ureal(V[i], U["V"], DOF["V"]), GTC.ureal(T[i], U["T"])
                p = v ** 2 / (R * (1 + a * (t - T0)))
                out.append((p.x, p.u, p.df))
            return out
        t_gtc, g = timed(gtc)
        gtc_u = np.array([x[1] for x in g])
        rows.append(("GTC 1.5.1 (ureal)", t_gtc))
    except ImportError:
        print("GTC not installed: pip install GTC (make bench does)")
    try:
        from uncertainties import ufloat

        def unc():
            R, a = ufloat(100.0, U["R"]), ufloat(3.9e-3, U["alpha"])
            return [(p.n, p.s) for p in (ufloat(V[i], U["V"]) ** 2 / (R * (1 + a * (ufloat(T[i], U["T"]) - 20.0)))
                                         for i in range(N))]
        t_unc, un = timed(unc)
        unc_u = np.array([x[1] for x in un])
        rows.append(("uncertainties 3.2.3 (ufloat)", t_unc))
    except ImportError:
        print("uncertainties not installed: pip install uncertainties (make bench does)")

    # Same numbers, or the timings mean nothing.
    assert np.allclose([r.standard_uncertainty for r in loop], batch["standard_uncertainty"][:1000], rtol=1e-12)
    if gtc_u is not None:
        assert np.allclose(gtc_u, batch["standard_uncertainty"], rtol=1e-9)
        assert np.allclose([x[2] for x in g], batch["dof"], rtol=1e-9)
    if unc_u is not None:
        assert np.allclose(unc_u, batch["standard_uncertainty"], rtol=1e-9)

    print(f"\n1. GUM budgets for {N} readings of {MODEL} (best of runs; results agree to 1e-9)")
    print(f"{'':34} {'time':>10} {'per budget':>12} {'vs labd batched':>16}")
    for name, t in rows:
        print(f"{name:34} {t * 1000:8.1f}ms {t / N * 1e6:10.2f}µs {t / t_batch:15.1f}×")
    if gtc_u is not None:
        print(f"target: batched ≥ 10× faster than GTC → {t_gtc / t_batch:.0f}× "
              f"({'met' if t_gtc / t_batch >= 10 else 'NOT met'})")

    inputs = [Input("V", 10.0, U["V"], DOF["V"], "t"), Input.from_half_width("R", 100.0, 0.0173, "rectangular"),
              Input("alpha", 3.9e-3, U["alpha"]), Input.from_half_width("T", 23.0, 0.12, "triangular"),
              Input("T0", 20.0, 0.01)]
    trials = 1_000_000
    montecarlo.run(model, inputs, trials=10_000, seed=0)              # warm-up (imports, first allocations)
    t_mc, mc = timed(lambda: montecarlo.run(model, inputs, trials=trials, seed=1), 3)

    def plain():
        r = np.random.default_rng(1)
        v = 10.0 + U["V"] * r.standard_t(9, trials)
        res = 100.0 + 0.0173 * (2 * r.random(trials) - 1)
        a = 3.9e-3 + U["alpha"] * r.standard_normal(trials)
        t = 23.0 + 0.12 * (r.random(trials) + r.random(trials) - 1)
        t0 = 20.0 + 0.01 * r.standard_normal(trials)
        y = np.sort(v ** 2 / (res * (1 + a * (t - t0))))
        q = int(0.9545 * trials + 0.5)
        s = int(np.argmin(y[q:] - y[:trials - q]))
        return y.mean(), y.std(ddof=1), (y[s], y[s + q])
    t_plain, _ = timed(plain, 3)
    p = mc["P"]
    print(f"\n2. Monte Carlo, {trials:.0e} trials, five inputs (normal, t, rectangular, triangular)")
    print(f"{'labd montecarlo.run':34} {t_mc * 1000:8.1f}ms   y = {p.value:.6f}  u = {p.standard_uncertainty:.2e}")
    print(f"{'plain numpy, same sampling':34} {t_plain * 1000:8.1f}ms   ratio {t_mc / t_plain:.2f}×")
    print(f"target: 10^6 trials < 1 s → {t_mc:.2f} s ({'met' if t_mc < 1 else 'NOT met'})")


if __name__ == "__main__":
    main()
