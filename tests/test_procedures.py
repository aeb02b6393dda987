"""Every procedure end to end against the simulated lab: the numbers agree with the simulator's truth within the
stated uncertainty, instruments are left safe, bad input is refused before anything moves."""
from __future__ import annotations

import asyncio
from datetime import date

import numpy as np
import pytest

from labd.daemon.records import Records, RecordsReader
from labd.daemon.engine import RunFailed, RunRefused

from .simlab import day, run_procedure, simulated


async def test_balance_errors_of_indication_agree_with_the_simulated_truth():
    async with simulated(seed=11) as (config, instruments, lab, standards):
        model = lab.world.balances["balance"]
        outcome, ctx = await run_procedure("balance-calibration", {"repetitions": "5"}, lab=lab,
                                           instruments=instruments, standards=standards, config=config)
    result = outcome.result
    assert [r.nominal for r in result.loads] == [20.0, 50.0, 100.0, 200.0]
    for r in result.loads:
        true_error = 2e-7 * r.reference_mass          # the simulated load cell's linearity
        assert abs(r.error - true_error) < r.expanded_uncertainty
        assert 1.5e-4 < r.expanded_uncertainty < 1e-3
        names = [c.name for c in r.budget.components]
        assert {"repeatability", "eccentricity", "reference mass", "air buoyancy"} <= set(names)
    assert result.repeatability_n == 5 and 2e-5 < result.repeatability_sd < 3e-4
    # The reference mass is the conventional mass from the register: 100 g piece corrected by −0.020 mg.
    assert result.loads[2].reference_mass == pytest.approx(100.0 - 0.000020, abs=1e-12)
    prompts = [e for e in ctx.events if e["event"] == "prompt"]
    assert sum(1 for e in prompts if e["key"].startswith("load_")) == 5 + 5 + 4
    assert model.load == 0.0      # every weight taken off


async def test_balance_load_the_weight_set_cannot_make_is_refused_before_anything_moves():
    async with simulated() as (config, instruments, lab, standards):
        with pytest.raises(RunRefused, match="cannot be made from the pieces"):
            await run_procedure("balance-calibration", {"test_loads": "20,0.5"}, lab=lab, instruments=instruments,
                                standards=standards, config=config)
        assert lab.servers["balance"].commands == []


async def test_dmm_errors_agree_with_the_truth_and_the_calibrator_is_in_standby_between_points():
    async with simulated(seed=5) as (config, instruments, lab, standards):
        dmm = lab.world.multimeters["dmm"]
        cal = lab.world.calibrators["calibrator"]
        outcome, ctx = await run_procedure("dmm-calibration", {"points": "1,10,100", "repetitions": "4"}, lab=lab,
                                           instruments=instruments, standards=standards, config=config)
        commands = [c.split()[0] for c in lab.servers["calibrator"].commands if c.split()[0] in ("OUT", "OPER", "STBY")]
        assert not cal.operating
    for r in outcome.results:
        actual = r.nominal * (1 + 4e-6) + 1e-6            # what the simulated calibrator really put out
        assert r.reference == pytest.approx(actual, abs=1e-12)   # the certificate says the same
        assert abs(r.error - dmm.true_error(actual)) < r.budget.expanded_uncertainty
    # Never a change of output while operating: OUT only after STBY, and STBY after every point.
    for i, c in enumerate(commands):
        if c == "OUT":
            before = [x for x in commands[:i] if x in ("OPER", "STBY")]
            assert not before or before[-1] == "STBY"
    assert commands.count("STBY") >= 3 + 1
    assert sum(1 for e in ctx.events if e["event"] == "standby") == 3


async def test_dmm_with_an_expired_calibrator_is_refused_before_anything_moves():
    async with simulated() as (config, instruments, lab, _):
        cfg = dict(config.standards)
        cfg["calibrator_5520a"] = cfg["calibrator_5520a"].model_copy(update={"due": date(2025, 1, 1)})
        from labd.procedures import register
        with pytest.raises(RunRefused, match="past its due date"):
            await run_procedure("dmm-calibration", {}, lab=lab, instruments=instruments, standards=register(cfg),
                                config=config)
        assert lab.servers["calibrator"].commands == [] and lab.servers["dmm"].commands == []


async def test_dmm_abort_leaves_the_calibrator_in_standby():
    async with simulated() as (config, instruments, lab, standards):
        cal = lab.world.calibrators["calibrator"]
        from labd.daemon.engine import run_control
        control = run_control(config, instruments)

        def progress(event, data):
            if event == "step" and data["done"] == 6:
                assert cal.operating            # mid-point, output live
                control.abort("test abort")
        with pytest.raises(RunFailed, match="aborted"):
            await run_procedure("dmm-calibration", {"repetitions": "4"}, lab=lab, instruments=instruments,
                                standards=standards, config=config, progress=progress, control=control)
        assert not cal.operating


async def test_solution_standardisation_finds_the_true_concentration_and_refuses_bad_answers():
    async with simulated(seed=2) as (config, instruments, lab, standards):
        outcome, ctx = await run_procedure("solution-standardisation", {}, lab=lab, instruments=instruments,
                                           standards=standards, config=config,
                                           answers={"volume_1": ["eighteen", "180", "18,64"]})
    out = outcome.result.outputs["c"]
    assert abs(outcome.concentration - 0.10214) < out.expanded_uncertainty
    assert 5e-5 < out.expanded_uncertainty < 5e-4
    assert outcome.replicates[0]["volume"] == 18.64      # the decimal comma is read
    refused = [e for e in ctx.events if e["event"] == "answer_refused"]
    assert [e["answer"] for e in refused] == ["eighteen", "180"]
    names = {c.name for c in out.budget}
    assert {"P", "d_cal", "R", "A_K"} <= names


async def test_solution_standardisation_gives_up_after_three_bad_answers():
    async with simulated() as (config, instruments, lab, standards):
        with pytest.raises(RunFailed, match="no valid answer after three tries"):
            await run_procedure("solution-standardisation", {}, lab=lab, instruments=instruments,
                                standards=standards, config=config, answers={"volume_1": "n/a"})


async def _ws_day(tmp_path, when: str, records: Records, drift: float = 0.0):
    async with simulated(start=day(when), seed=int(day(when)) % 1000) as (config, instruments, lab, standards):
        probe = lab.world.probes["ref_readout"][1]
        probe.error = (probe.error[0] + drift,) + tuple(probe.error[1:])
        return await run_procedure("working-standard-check", {"readings": "5", "stability.window": "8"}, lab=lab,
                                   instruments=instruments, standards=standards, config=config, records=records,
                                   run_id=f"ws-{when}")


async def test_working_standard_check_accumulates_ten_days_across_runs(tmp_path):
    records = await Records(tmp_path / "labd.sqlite").open()
    try:
        for i in range(10):
            outcome, _ = await _ws_day(tmp_path, f"2026-11-{i + 1:02d}T08:00", records)
        assert len(outcome.days) == 10
        assert outcome.stability.passed and "10 days" in outcome.verdict and "passes" in outcome.verdict
        with pytest.raises(RunRefused, match="already checked on 2026-11-10"):
            await _ws_day(tmp_path, "2026-11-10T15:00", records)
    finally:
        await records.close()
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        assert reader.verify().ok
        assert reader.run("ws-2026-11-10T15:00").state == "refused"


async def test_working_standard_that_drifts_fails_its_check(tmp_path):
    records = await Records(tmp_path / "labd.sqlite").open()
    try:
        for i in range(4):
            outcome, _ = await _ws_day(tmp_path, f"2026-11-{i + 1:02d}T08:00", records, drift=0.012 * i)
    finally:
        await records.close()
    assert not outcome.stability.passed and "provisionally fails" in outcome.verdict
    assert outcome.stability.max_deviation > 0.02


async def test_equipment_check_goes_monthly_after_seven_days_and_plans_recalibration_from_drift(tmp_path):
    records = await Records(tmp_path / "labd.sqlite").open()
    dates = [f"2026-02-{d:02d}" for d in range(1, 8)] + ["2026-03-09", "2026-04-08", "2026-05-08"]
    try:
        for i, when in enumerate(dates):
            async with simulated(start=day(when + "T09:00"), seed=i) as (config, instruments, lab, standards):
                model = lab.world.balances["balance"]
                model.linearity = (0.0, 2e-7 + i * 4e-7)      # the balance drifts: +0.04 mg at 100 g per check
                outcome, _ = await run_procedure("equipment-check", {}, lab=lab, instruments=instruments,
                                                 standards=standards, config=config, records=records,
                                                 run_id=f"eq-{when}")
            if i == 5:
                assert outcome.next_check == "2026-02-07"       # still daily
            if i == 6:
                assert outcome.next_check == "2026-03-09"       # seventh check: monthly from now
    finally:
        await records.close()
    assert len(outcome.checks) == 10
    assert outcome.drift.significant and outcome.drift.slope > 0
    rec = outcome.recommendation
    assert rec.interval_days < 365 and "reaches the tolerance" in rec.reason
    true_dev = [2e-7 * 100 + i * 4e-7 * 100 for i in range(10)]
    assert np.allclose([c["value"] for c in outcome.checks], true_dev, atol=3e-4)


async def test_the_balance_budget_follows_cg18_and_gives_w_over_the_range():
    async with simulated() as (config, instruments, lab, standards):
        outcome, _ = await run_procedure("balance-calibration", {"repetitions": "3"}, lab=lab,
                                         instruments=instruments, standards=standards, config=config)
    data = outcome.to_json()
    top = data["loads"][-1]
    parts = {c["name"]: c for c in top["budget"]}
    assert {"zero", "convection", "air buoyancy"} <= set(parts)
    assert "CIPM-2007" in parts["air buoyancy"]["source"] and "class E2" in parts["air buoyancy"]["source"]
    assert parts["air buoyancy"]["standard_uncertainty"] < 1e-6 * 200 / 3 ** 0.5 / 3      # was the largest
    w = data["weighing"]
    assert len(w["at"]) == len(data["loads"]) and w["alpha"] > 0 and w["beta"] > 0
    assert all(a["global_expanded_uncertainty"] >= a["expanded_uncertainty"] > 0 for a in w["at"])
    # U(W) grows with the reading
    assert w["at"][-1]["expanded_uncertainty"] > w["at"][0]["expanded_uncertainty"]


async def _equipment_checks(tmp_path, bias_per_gram: float, days: int, **params):
    records = await Records(tmp_path / "labd.sqlite").open()
    try:
        for i in range(days):
            when = f"2026-02-{i + 1:02d}"
            async with simulated(start=day(when + "T09:00"), seed=i) as (config, instruments, lab, standards):
                lab.world.balances["balance"].linearity = (0.0, bias_per_gram)
                outcome, _ = await run_procedure("equipment-check", params, lab=lab, instruments=instruments,
                                                 standards=standards, config=config, records=records,
                                                 run_id=f"eq-{when}")
    finally:
        await records.close()
    return outcome


async def test_a_balance_biased_beyond_tolerance_is_to_be_adjusted_now_not_in_a_year(tmp_path):
    outcome = await _equipment_checks(tmp_path, 8e-6, 4)            # +0.8 mg at 100 g, tolerance 0.5 mg
    assert not outcome.within_tolerance and not outcome.decision.passed
    assert outcome.recommendation.reason == "out of tolerance: adjust or recalibrate now"
    assert outcome.recommendation.interval_days < 30
    assert "simple acceptance" in outcome.to_json()["decision"]["statement"]


async def test_the_control_chart_is_centred_on_the_reference_value_so_a_constant_bias_shows(tmp_path):
    # +0.3 mg at 100 g, within the 0.5 mg tolerance; centred on its own mean the chart said "in control".
    outcome = await _equipment_checks(tmp_path, 3e-6, 3)
    assert outcome.within_tolerance
    assert outcome.chart.centre == 0.0 and not outcome.chart.in_control
    assert {v.rule for v in outcome.chart.violations} >= {"1 point beyond 3σ"}
    stairs = await _equipment_checks(tmp_path / "s", 1e-6, 3, interval_method="staircase",
                                     current_interval_days="200")
    assert stairs.recommendation.interval_days == 250 and "staircase" in stairs.recommendation.reason
    guarded = await _equipment_checks(tmp_path / "g", 4.6e-6, 1, decision_rule="guarded")
    assert not guarded.decision.passed and guarded.decision.acceptance_limit < 0.0005


async def test_a_stability_run_on_a_steady_source_reports_its_warm_up_apart_and_no_drift(tmp_path):
    # The simulated block has no drift but still settles for a while after the stability criterion is met:
    # that transient gave "drift significant" and dozens of run-rule violations.
    records = await Records(tmp_path / "labd.sqlite").open()
    try:
        # At 1000× a 30 s interval is 30 ms of wall time: enough that the records round trip never shifts the grid.
        async with simulated(speed=1000) as (config, instruments, lab, standards):
            outcome, ctx = await run_procedure("stability-run", {"duration_hours": "2", "interval": "30"}, lab=lab,
                                               instruments=instruments, standards=standards, config=config,
                                               records=records, run_id="steady")
    finally:
        await records.close()
    assert outcome.warm_up > 5 and 0 < outcome.warm_up_hours < 1
    logged = [r for r in ctx.readings if r.role == "stability"]     # up to 241 slots (a busy machine skips some)
    assert outcome.n + outcome.warm_up + outcome.excluded == len(logged) > 200
    assert not outcome.drift.significant
    assert len(outcome.chart.violations) < 0.05 * outcome.n
    assert "still settling" in outcome.table().title


async def test_stability_run_resumes_on_its_grid_after_a_crash(tmp_path):
    from labd.daemon.engine import load_for_resume
    records = await Records(tmp_path / "labd.sqlite").open()
    params = {"duration_hours": "1", "interval": "60", "stability.window": "8"}
    try:
        async with simulated(speed=600) as (config, instruments, lab, standards):
            state = {"n": 0}

            def progress(event, data):
                if event == "reading":
                    state["n"] += 1
            task = asyncio.ensure_future(run_procedure("stability-run", params, lab=lab, instruments=instruments,
                                                       standards=standards, config=config, records=records,
                                                       run_id="s1", progress=progress))
            while state["n"] < 12:
                await asyncio.sleep(0.005)
            task.cancel()              # the process dies here
            with pytest.raises(asyncio.CancelledError):
                await task
            await records.flush()
            previous = load_for_resume(records.path, "s1")
            first = [r for r in previous.readings if r.role == "stability"]
            assert len(first) >= 10
            await lab.clock.sleep(300)   # five minutes pass before it comes back
            from labd.daemon.engine import execute, preflight
            from labd.procedures import PROCEDURES, RunContext, parse_parameters
            from labd.simulators import SimulatedOperator
            info = PROCEDURES["stability-run"]

            async def ask(prompt):
                return await SimulatedOperator(lab.world).perform(prompt.action)
            ctx = RunContext("s1", "stability-run", "demo", instruments, standards, lab.clock, ask, records=records,
                             attempt=previous.attempt, readings=previous.readings)
            resumed_params = parse_parameters(info, params)
            await preflight(ctx, resumed_params)
            outcome = await execute(ctx, info, resumed_params)
    finally:
        await records.close()
    stab = [r for r in ctx.readings if r.role == "stability"]
    times = np.array([r.time for r in stab])
    slots = np.round((times - times[0]) / 60.0)
    # on the grid, before and after: a slot is taken up to 0.4 of the interval late (after re-stabilising, say)
    assert np.allclose((times - times[0]) / 60.0, slots, atol=0.41)
    assert len(set(slots)) == len(slots) and 57 <= slots.max() <= 60     # no duplicates; ends on time
    assert outcome.n + outcome.warm_up == len(stab) < 61 - 5        # a gap (and re-stabilising)
    assert any(e["event"] == "logging" and e["resumed_with"] == len(first) for e in ctx.events)
    assert stab[:len(first)] == first


async def test_stability_run_is_traceable_to_the_standard_its_channel_reads():
    params = {"duration_hours": "0.1", "interval": "30", "stability.window": "6"}
    async with simulated(speed=600) as (config, instruments, lab, standards):
        block, truth = lab.world.blocks["dry_block"], []

        def progress(event, data):          # the block's true temperature as each reading is taken
            if event == "reading" and data["reading"].role == "stability":
                truth.append(block.true_temperature())
        outcome, ctx = await run_procedure("stability-run", params, lab=lab, instruments=instruments,
                                           standards=standards, config=config, progress=progress)
        true_mean = float(np.mean(truth[outcome.warm_up:]))      # the steady part the statistics describe
    assert len(truth) == outcome.n + outcome.warm_up == 13       # every slot of 6 min at 30 s, the first one included
    assert any(r.role == "ambient" for r in ctx.readings)
    used = [e for e in ctx.events if e["event"] == "standard_used"]
    assert [e["standard"] for e in used] == ["ref_prt"]          # found from the register: ref_readout channel 1
    assert outcome.correction.certificate == "KAL-2025/0631/SUHU"
    # The readout's channel 1 reads 0.016 °C low at 50 °C; the certificate's correction puts it back.
    assert abs(outcome.mean - true_mean) > 0.01
    assert abs(outcome.corrected_mean - true_mean) < 0.003
    assert outcome.to_json()["reference"]["set_point_deviation"] == pytest.approx(outcome.corrected_mean - 50.0)

    async with simulated(speed=600) as (config, instruments, lab, standards):
        outcome, ctx = await run_procedure("stability-run", {**params, "reference_standard": ""}, lab=lab,
                                           instruments=instruments, standards=standards, config=config)
    assert outcome.correction is None and not [e for e in ctx.events if e["event"] == "standard_used"]

    async with simulated() as (config, instruments, lab, _):
        cfg = dict(config.standards)
        cfg["ref_prt"] = cfg["ref_prt"].model_copy(update={"due": date(2025, 1, 1)})
        from labd.procedures import register
        with pytest.raises(RunRefused, match="past its due date"):
            await run_procedure("stability-run", params, lab=lab, instruments=instruments,
                                standards=register(cfg), config=config)
        assert lab.servers["dry_block"].commands == []
