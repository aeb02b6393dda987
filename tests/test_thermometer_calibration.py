"""Thermometer calibration end to end against the simulated lab: numbers agree with the simulator's truth."""
from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from labd.daemon.engine import RunFailed, RunRefused, bench, preflight
from labd.daemon.config import load_config
from labd.drivers import InstrumentError
from labd.procedures import RunContext, register
from labd.procedures.stability import StabilityCriterion
from labd.procedures.thermometer_calibration import Parameters, run

from .conftest import CONFIG
from .simlab import run_procedure, simulated


async def _answer(prompt):
    return "done"


def _params(**kw):
    return Parameters(set_points=(30.0, 80.0), repetitions=4, interval=10.0,
                      stability=StabilityCriterion(window=8), **kw)


async def test_corrections_agree_with_the_simulated_truth_within_uncertainty():
    config = load_config(CONFIG)
    async with bench(config, simulate=True, speed=400, seed=7) as (instruments, lab):
        ctx = RunContext("t1", "thermometer-calibration", "demo", instruments, register(config.standards),
                         lab.clock, _answer)
        outcome = await run(ctx, _params())
        uut_probe = lab.world.probes["ref_readout"][2]
        block = lab.world.blocks["dry_block"]
        assert block.set_point == 25.0  # left at the safe set point
    assert [r.nominal for r in outcome.results] == [30.0, 80.0]
    for r in outcome.results:
        true_correction = -uut_probe.true_error(r.nominal)
        assert abs(r.correction - true_correction) < r.expanded_uncertainty
        assert 0.005 < r.expanded_uncertainty < 0.05
    # raw and corrected values of the reference are both kept
    ref = [x for x in ctx.readings if x.role == "reference"]
    assert ref and all(x.corrected is not None and x.corrected != x.value for x in ref)
    assert len([x for x in ctx.readings if x.role == "unit under test"]) == 8
    (used,) = [e for e in ctx.events if e["event"] == "standard_used"]     # traceability on record
    assert used["certificate"] == "KAL-2025/0631/SUHU" and used["due"] == "2027-06-30"


async def test_expired_standard_is_refused_before_anything_moves():
    config = load_config(CONFIG)
    std = config.standards["ref_prt"]
    expired = {"ref_prt": std.model_copy(update={"due": date(2020, 1, 1)})}
    async with bench(config, simulate=True, speed=400) as (instruments, lab):
        ctx = RunContext("t2", "thermometer-calibration", "demo", instruments, register(expired), lab.clock, _answer)
        with pytest.raises(RunRefused, match="past its due date"):
            await preflight(ctx, _params())
        assert lab.servers["dry_block"].commands == []  # nothing was sent to the heat source


async def test_point_outside_the_certificate_range_is_refused():
    config = load_config(CONFIG)
    async with bench(config, simulate=True, speed=400) as (instruments, lab):
        ctx = RunContext("t3", "thermometer-calibration", "demo", instruments, register(config.standards),
                         lab.clock, _answer)
        with pytest.raises(RunRefused, match="outside the range"):
            await preflight(ctx, dataclasses.replace(_params(), set_points=(30.0, 200.0)))
        assert lab.servers["dry_block"].commands == []


async def test_the_reference_channel_cannot_be_the_unit_under_test():
    config = load_config(CONFIG)
    async with bench(config, simulate=True, speed=400) as (instruments, lab):
        ctx = RunContext("t5", "thermometer-calibration", "demo", instruments, register(config.standards),
                         lab.clock, _answer)
        with pytest.raises(RunRefused, match="reference cannot calibrate itself"):
            await preflight(ctx, _params(uut_channel=1))
        assert await preflight(ctx, _params()) == {"dry_block": None, "ref_readout": frozenset({1, 2})}


async def test_failure_mid_run_leaves_the_source_at_its_safe_set_point():
    config = load_config(CONFIG)
    async with bench(config, simulate=True, speed=400) as (instruments, lab):
        ctx = RunContext("t4", "thermometer-calibration", "demo", instruments, register(config.standards),
                         lab.clock, _answer)
        readout_server = lab.servers["ref_readout"]

        def fail_on_stable(event, data):
            if event == "stable":
                readout_server.inject("no_reply", count=None)
        ctx.progress = fail_on_stable
        with pytest.raises(InstrumentError):
            await run(ctx, _params())
        assert lab.world.blocks["dry_block"].set_point == 25.0
        assert any(e["event"] == "safe_state" for e in ctx.events)


async def test_a_readout_in_fahrenheit_is_converted_and_the_conversion_recorded(tmp_path):
    from labd.daemon.records import Records, RecordsReader
    records = await Records(tmp_path / "labd.sqlite").open()
    params = {"set_points": "50", "repetitions": "3", "stability.window": "6"}
    try:
        async with simulated(speed=400) as (config, instruments, lab, standards):
            lab.servers["ref_readout"].device.unit = "F"
            outcome, _ = await run_procedure("thermometer-calibration", params, lab=lab, instruments=instruments,
                                             standards=standards, config=config, records=records, run_id="f")
    finally:
        await records.close()
    (result,) = outcome.results
    assert abs(result.uut_mean - 50) < 0.5 and abs(result.correction) < 0.5     # in °C, not 122 °F
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        taken = [r for r in reader.readings("f") if r["role"] in ("reference", "unit under test")]
    assert taken and all(r["unit"] == "°C" and "converted to °C" in r["note"] and " °F" in r["note"]
                         for r in taken)


async def test_a_readout_channel_in_ohms_is_refused_not_corrected():
    async with simulated(speed=400) as (config, instruments, lab, standards):
        lab.servers["ref_readout"].device.unit = "O"
        with pytest.raises(RunFailed, match="reads in Ω.*budget is in °C"):
            await run_procedure("thermometer-calibration", {"set_points": "50", "repetitions": "3"}, lab=lab,
                                instruments=instruments, standards=standards, config=config)


async def test_the_budget_names_every_effect_with_its_source_and_a_falling_series_measures_hysteresis():
    params = {"set_points": "30,50", "repetitions": "3", "stability.window": "6", "falling": "true"}
    async with simulated(speed=400) as (config, instruments, lab, standards):
        outcome, ctx = await run_procedure("thermometer-calibration", params, lab=lab, instruments=instruments,
                                           standards=standards, config=config)
    assert [e["set_point"] for e in ctx.events if e["event"] == "set_point"] == [30.0, 50.0, 30.0]
    low, top = outcome.to_json()
    names = {c["name"]: c for c in low["budget"]}
    for name in ("reference certificate", "certificate interpolation", "reference drift", "reference readout",
                 "axial uniformity", "radial uniformity", "source stability", "source loading", "immersion",
                 "hysteresis", "UUT repeatability", "UUT resolution"):
        assert name in names, name
        assert names[name]["source"] and names[name]["distribution"] and "dof" in names[name]
    assert "KAR-2025/11" in names["axial uniformity"]["source"]
    # dry_block at 30 °C: axial 0.009 interpolated between 0 and 50 °C, rectangular
    assert names["axial uniformity"]["standard_uncertainty"] == pytest.approx(0.013 / 3 ** 0.5, rel=1e-6)
    assert names["reference readout"]["standard_uncertainty"] == 0.0     # the certificate covers the readout
    assert "rising and falling" in names["hysteresis"]["source"]
    assert "declared" in {c["name"]: c for c in top["budget"]}["hysteresis"]["source"]    # the top: no twin


def test_the_certificate_interpolation_is_zero_at_its_points_and_grows_between_curved_ones():
    from labd.procedures.standards import Standard
    curved = Standard("s", "", "1", "C-1", date(2026, 1, 1), date(2027, 1, 1), "°C",
                      ((0.0, 0.0, 0.01, 2.0), (50.0, 0.01, 0.01, 2.0), (100.0, 0.04, 0.01, 2.0)))
    assert curved.interpolation(50.0) == 0.0
    # linear 0.005 at 25 °C; the parabola through the three points (4e-6 t²) gives 0.0025
    assert curved.interpolation(25.0) == pytest.approx(0.0025)


async def test_a_set_point_outside_the_sources_characterisation_is_refused_before_anything_moves():
    async with simulated(speed=400) as (config, instruments, lab, standards):
        standards.sources["dry_block"] = dataclasses.replace(standards.sources["dry_block"],
                                                             points=standards.sources["dry_block"].points[:2])
        with pytest.raises(RunRefused, match="outside the characterisation KAR-2025/11"):
            await run_procedure("thermometer-calibration", {"set_points": "80", "repetitions": "3"}, lab=lab,
                                instruments=instruments, standards=standards, config=config)


async def test_measuring_starts_only_when_the_block_has_stopped_rising():
    # With the old default (0.01 °C/min over 12 readings) the reference still rose 0.010–0.013 °C over a
    # point's ten readings on the simulated dry-block; the default now keeps it within the block's
    # characterised stability (0.004–0.005 °C between 30 and 80 °C).
    import numpy as np
    async with simulated(speed=400, seed=2) as (config, instruments, lab, standards):
        _, ctx = await run_procedure("thermometer-calibration", {"set_points": "30,80", "repetitions": "10"},
                                     lab=lab, instruments=instruments, standards=standards, config=config)
    for point in (0, 1):
        t, v = np.array([(r.time, r.value) for r in ctx.readings if r.role == "reference" and r.point == point]).T
        assert abs(np.polyfit(t, v, 1)[0] * (t[-1] - t[0])) < 0.008


async def test_an_immersion_test_measures_the_stem_conduction_and_scales_it_to_each_point():
    """Issue 16: the immersion term measured by withdrawing the unit under test at the point farthest from the
    room. The simulated UUT loses 1e-5 of (t − room) per mm withdrawn: 20 mm at 80 °C is about −0.0114 °C."""
    params = {"set_points": "30,80", "repetitions": "6", "stability.window": "6", "immersion_withdrawal": "20"}
    async with simulated(speed=400) as (config, instruments, lab, standards):
        outcome, ctx = await run_procedure("thermometer-calibration", params, lab=lab, instruments=instruments,
                                           standards=standards, config=config)
        uut = lab.world.probes["ref_readout"][2]
        assert uut.withdrawn == 0.0                               # pushed back in before anything else
        room = lab.world.blocks["dry_block"].ambient
    expected = uut.stem * 20 * (80 - room)
    (test,) = [e for e in ctx.events if e["event"] == "immersion_test"]
    assert test["set_point"] == 80.0
    assert test["change"] == pytest.approx(expected, abs=0.006)   # withdrawn, the UUT reads low: its correction grows
    low, top = outcome.to_json()
    immersion = {p["nominal"]: next(c for c in p["budget"] if c["name"] == "immersion") for p in (low, top)}
    assert "withdrawn 20 mm at 80 °C" in immersion[80.0]["source"]
    assert immersion[80.0]["standard_uncertainty"] == pytest.approx(abs(test["change"]) / 3 ** 0.5, rel=1e-9)
    ratio = immersion[30.0]["standard_uncertainty"] / immersion[80.0]["standard_uncertainty"]
    assert 0.05 < ratio < 0.25                                    # |30 − room| / |80 − room|
    withdrawn = [r for r in ctx.readings if r.role.startswith("unit under test withdrawn")]
    assert len(withdrawn) == 6 and all(r.point == 1 for r in withdrawn)
    assert len([r for r in ctx.readings if r.role == "unit under test"]) == 12     # the point's own, unchanged


async def test_the_declared_immersion_is_kept_without_a_test_and_refused_with_resistance_readings():
    params = {"set_points": "30,80", "repetitions": "3", "stability.window": "6"}
    async with simulated(speed=400) as (config, instruments, lab, standards):
        outcome, ctx = await run_procedure("thermometer-calibration", params, lab=lab, instruments=instruments,
                                           standards=standards, config=config)
        with pytest.raises(RunRefused, match="immersion test is for a thermometer read in temperature"):
            await run_procedure("thermometer-calibration", {**params, "set_points": "0,50,100",
                                                            "uut_reads": "resistance", "immersion_withdrawal": "20"},
                                lab=lab, instruments=instruments, standards=standards, config=config)
        # Callendar–Van Dusen holds to 850 °C: a set point beyond is refused before the source heats.
        with pytest.raises(RunRefused, match="900 °C is outside the Callendar–Van Dusen equation's range"):
            await run_procedure("thermometer-calibration", {**params, "set_points": "0,100,900",
                                                            "uut_reads": "resistance"},
                                lab=lab, instruments=instruments, standards=standards, config=config)
    for point in outcome.to_json():
        (c,) = [c for c in point["budget"] if c["name"] == "immersion"]
        assert "declared" in c["source"] and c["standard_uncertainty"] == pytest.approx(0.005 / 3 ** 0.5)
    assert not [e for e in ctx.events if e["event"] == "immersion_test"]
