"""The immersion test of a calibration by comparison: how much the unit under test's correction moves when it
is withdrawn from full immersion (stem conduction), measured rather than declared.

At the set point farthest from the room — where heat flowing along the stem is largest — the unit under test is
withdrawn by a stated distance (EURAMET cg-13 §6.4 suggests 20 mm for a block calibrator's immersion check), the
readings are repeated, and the probe is pushed back. The change of the correction, |Δ|, is the half-width of a
rectangular immersion term there: a probe that keeps its reading when drawn out of the last millimetres is
immersed deeply enough, and one that does not shows by how much it could be wrong at full immersion. At the other
set points the term is scaled by their distance from the room temperature, since stem conduction is driven by the
difference between the source and the room.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from statistics import fmean

from labd.calc.comparison import ComparisonPoint

from .context import RecordedReading, RunContext
from .events import Event
from .units import celsius

ROOM = 23.0     # °C, the scaling's room temperature when no ambient reading was recorded


def test_point(set_points: Sequence[float], room: float = ROOM) -> float:
    """The set point the test is made at: the one farthest from the room (the first of equals)."""
    return max(set_points, key=lambda sp: abs(sp - room))


async def withdrawal_test(ctx: RunContext, readout, p, ref_channel: int, index: int, set_point: float,
                          settle: Callable) -> float:
    """Withdraw the unit under test by `p.immersion_withdrawal` mm, read both probes `p.repetitions` times, push
    it back; returns Δ, the correction withdrawn less the correction at full immersion (from the same probes'
    readings just taken, passed in as the point's)."""
    action = {"do": "immerse", "readout": p.readout, "channel": p.uut_channel}
    where_ref, where_uut = f"{p.readout} channel {ref_channel}", f"{p.readout} channel {p.uut_channel}"
    await ctx.ask("withdraw_uut", f"Withdraw the unit under test ({p.uut_serial}) by {p.immersion_withdrawal:g} mm "
                                  f"from full immersion, leaving the reference where it is. Type 'done' when ready.",
                  action={**action, "withdrawn": p.immersion_withdrawal})
    differences = []
    try:
        await settle()
        for rep in range(p.repetitions):
            await ctx.checkpoint()
            ref, ref_note = celsius(await readout.read(ref_channel), where_ref)
            uut, uut_note = celsius(await readout.read(p.uut_channel), where_uut)
            t = ctx.clock.now()
            await ctx.record(RecordedReading(t, p.readout, "temperature", ref.value, "°C", ref.raw, None, index,
                                             "reference (immersion test)", note=ref_note))
            await ctx.record(RecordedReading(t, p.readout, "temperature", uut.value, "°C", uut.raw, None, index,
                                             f"unit under test withdrawn {p.immersion_withdrawal:g} mm",
                                             note=uut_note))
            differences.append(ref.value - uut.value)
            if rep < p.repetitions - 1:
                await ctx.clock.sleep(p.interval)
    finally:
        # Back to full immersion before anything else is measured, whatever happened above.
        await ctx.ask("reinsert_uut", f"Push the unit under test ({p.uut_serial}) back to full immersion. "
                                      f"Type 'done' when ready.", action={**action, "withdrawn": 0.0})
    return fmean(differences)


def apply(points: list[ComparisonPoint], withdrawn: float, room: float | None) -> list[ComparisonPoint]:
    """Each point's immersion term from the test (the point that carries `immersion_change`), scaled by its
    distance from the room; unchanged when no point carries a test."""
    tested = [pt for pt in points if pt.immersion_change is not None]
    if not tested:
        return points
    test = tested[0]
    assert test.immersion_change is not None
    t_room = ROOM if room is None else room
    span = abs(test.nominal - t_room) or 1.0
    change = abs(test.immersion_change)
    out = []
    for pt in points:
        half = change * abs(pt.nominal - t_room) / span
        source = (f"immersion test: withdrawn {withdrawn:g} mm at {test.nominal:g} °C, the correction changed by "
                  f"{test.immersion_change:+.4f} °C; scaled by |t − {t_room:.1f} °C| / |{test.nominal:g} − "
                  f"{t_room:.1f}| °C ({'room from the ambient readings' if room is not None else 'room taken as 23 °C'})")
        out.append(replace(pt, immersion=half, immersion_source=source))
    return out


def room_temperature(ctx: RunContext) -> float | None:
    """The mean room temperature over the run's ambient readings in °C, if any were recorded."""
    values = [r.value for r in ctx.readings if r.role == "ambient" and r.quantity == "temperature" and r.unit == "°C"]
    return fmean(values) if values else None


def mark(point: ComparisonPoint, change: float, ctx: RunContext) -> ComparisonPoint:
    ctx.event(Event.IMMERSION_TEST, set_point=point.nominal, change=change)
    return replace(point, immersion_change=change)
