"""Building blocks every procedure uses: recording the ambient conditions, heating, cross-checks of set points
and loads, the standards a run relies on. (Leaving instruments safe is `ctx.safe`.)"""
from __future__ import annotations

from collections.abc import Iterable

from labd.drivers import AmbientSensor, Identity
from labd.drivers.errors import NotSupported

from .context import RecordedReading, RunContext
from .events import Event
from .standards import NotTheStandard


async def record_ambient(ctx: RunContext, point: int | None) -> list[RecordedReading]:
    """One reading of every ambient sensor, on record for the certificate's environmental conditions."""
    out = []
    for iid, inst in ctx.instruments.items():
        # By declared kind: a readout's or a multimeter's read() would satisfy the protocol's shape as well.
        if not isinstance(inst, AmbientSensor) or getattr(inst, "kind", None) != "ambient-sensor":
            continue
        try:
            for r in await inst.read():
                rec = RecordedReading(ctx.clock.now(), iid, r.quantity, r.value, r.unit, r.raw, None, point, "ambient")
                await ctx.record(rec)
                out.append(rec)
        except Exception as exc:     # a missing room reading must not stop a calibration; it is on record
            ctx.event(Event.AMBIENT_UNAVAILABLE, instrument=iid, error=str(exc))
    return out


async def heat(ctx: RunContext, source, set_point: float) -> None:
    """Set the heat source and switch its output on (models without a switch always heat)."""
    await source.set_point(set_point)
    try:
        await source.output(True)
    except NotSupported:
        pass
    ctx.event(Event.HEATING, set_point=set_point, instrument=source.id)


def check_set_points(ctx: RunContext, source: str, set_points: Iterable[float]) -> None:
    """Refuse a set point outside the range configured for the heat source (its driver's options)."""
    options = getattr(ctx.instruments.get(source), "options", None)
    low, high = getattr(options, "min_set_point", None), getattr(options, "max_set_point", None)
    for sp in set_points:
        if (low is not None and sp < low) or (high is not None and sp > high):
            raise ValueError(f"set point {sp:g} °C is outside {source}'s configured range {low:g} … {high:g} °C")


def check_loads(ctx: RunContext, balance: str, loads: Iterable[float]) -> None:
    """Refuse a load above the balance's capacity (Max, from its options) before anything is placed."""
    capacity = getattr(getattr(ctx.instruments.get(balance), "options", None), "capacity", None)
    if capacity is None:
        return
    for load in loads:
        if load > capacity:
            raise ValueError(f"load {load:g} g is above the capacity of {balance} (Max = {capacity:g} g)")


def standards_used(ctx: RunContext, *ids: str) -> None:
    """Put on record which certificate of each standard the run relies on (traceability)."""
    for sid in ids:
        std = ctx.standards[sid]
        ctx.event(Event.STANDARD_USED, standard=sid, description=std.description, serial_number=std.serial_number,
                  description_id=std.description_id, certificate=std.certificate, issued_by=std.issued_by,
                  calibrated=std.calibrated.isoformat(), due=std.due.isoformat())


async def identified(ctx: RunContext, standards: Iterable[str], **instruments: str) -> dict[str, Identity]:
    """Ask each instrument (by role: `calibrator="calibrator"`) who it is, put that on record, and match each of
    `standards` read through one of them with its certificate's serial: a certificate belongs to one instrument.
    Called before anything moves, so a mismatch (NotTheStandard) refuses the run."""
    found: dict[str, Identity] = {}
    for role, iid in instruments.items():
        inst = ctx.instruments[iid]
        identity = getattr(inst, "identity", None)
        found[role] = await identity() if callable(identity) else Identity.parse(await inst.identify())
    ctx.event(Event.IDENTIFIED, **{role: i.text for role, i in found.items()},
              identities={role: {"instrument": instruments[role], "manufacturer": i.manufacturer, "model": i.model,
                                 "serial": i.serial} for role, i in found.items()})
    by_instrument = {instruments[role]: i for role, i in found.items()}
    for sid in standards:
        std = ctx.standards[sid]
        expected = std.reported_serial
        seen = by_instrument.get(std.instrument or "")
        if expected is None or seen is None or seen.serial is None:
            continue
        if seen.serial != expected:
            what = "the readout its certificate covers" if std.channel is not None else "the instrument"
            raise NotTheStandard(f"standard {sid}: {std.instrument} reports serial {seen.serial}, but {what} in the "
                                 f"register (certificate {std.certificate}) has serial {expected}: the certificate "
                                 f"is not this instrument's; refused before anything moved")
    return found


async def item(ctx: RunContext, reported: Identity | None, declared_serial: str) -> str:
    """Put on record the unit under test as the certificate will name it: as it identified itself wherever it
    can. When the operator declared another serial, they are asked which is right, and both stay on record."""
    serial = declared_serial
    if reported is not None and reported.serial:
        serial = reported.serial
        if declared_serial and declared_serial != reported.serial:
            serial = await ctx.ask("item_serial", f"The unit under test reports serial {reported.serial}, but "
                                                  f"{declared_serial} was declared. Type the serial that is "
                                                  f"right for the certificate.", kind="text")
    ctx.event(Event.ITEM, serial=serial, declared_serial=declared_serial,
              reported_serial=reported.serial if reported else None,
              manufacturer=reported.manufacturer if reported else "", model=reported.model if reported else "")
    return serial
