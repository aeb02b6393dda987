"""Temperature sources: the SCPI metrology well / dry-block and the classic Hart dry-well or bath."""
from __future__ import annotations

from ..line_server import LineDevice, Session
from ..physics import Probe, ThermalBlock
from ..scpi import ScpiDevice, ScpiError, boolean, number
from .fluke_1529 import pt100


class ScpiWellSim(ScpiDevice):
    """A Fluke SCPI metrology well (9142/9143/9144) on the SCPI core (../shared/protocols/INSTRUMENT-PROTOCOLS.md
    §4.2, marks as there): `SOUR:SPO` / `SOUR:SPO?` [D]; `SOUR:SENS:DATA? [TEMP|RES]` (the control sensor's
    temperature, or its resistance) [D]; `SOUR:STAB:TEST?` [D], `SOUR:STAB:LIM` (0.01–9.99 °C) [D],
    `SOUR:STAB:DATA?` (the present stability: the spread of the control readings over the last minute) [D];
    `OUTP:STAT` (off at power-up and after *RST) [D]; `UNIT:TEMP C|F` [D]; `SYST:BEEP:IMM` [D]. With the process
    option (a reference probe plugged into the well's own readout, `reference_probe`): `READ?` → the reference
    probe's temperature and `SENS1:DATA?` → its resistance [D] (a Fluke9142 pyvisa class); without it these are
    undefined headers, as on a well without the option."""

    reply_termination = "\r\n"
    error_format = '{code},"{message}"'

    def __init__(self, block: ThermalBlock, *, model: str = "9142", serial: str = "B51234",
                 min_set_point: float = -25.0, max_set_point: float = 150.0,
                 reference_probe: Probe | None = None) -> None:
        super().__init__()
        self.block, self.model, self.serial = block, model, serial
        self.reference_probe = reference_probe
        self.min_set_point, self.max_set_point = min_set_point, max_set_point
        self.unit = "C"
        self._recent: list[tuple[float, float]] = []        # (time, control reading) for SOUR:STAB:DATA?
        self.command("SOURce:SPOint", self._set_point)
        self.command("SOURce:SENSe:DATa", self._sensor, True)
        self.command("SOURce:STABility:TEST", lambda p, q: "1" if self.block.is_stable() else "0", True)
        self.command("SOURce:STABility:LIMit", self._limit)
        self.command("SOURce:STABility:DATa", lambda p, q: f"{self._stability():.3f}", True)
        self.command("OUTPut[:STATe]", self._output)
        self.command("UNIT:TEMPerature", self._unit)
        self.command("SYSTem:BEEPer[:IMMediate]", lambda p, q: None, False)
        if reference_probe is not None:
            self.command("READ", lambda p, q: f"{self._shown(reference_probe.reading()):.4f}", True)
            self.command("SENSe<n>:DATa", self._reference_resistance, True)

    def identity(self) -> str:
        return f"FLUKE,{self.model},{self.serial},1.10"

    def reset(self) -> None:
        self.block.output(False)

    def _shown(self, celsius: float) -> float:
        return celsius * 1.8 + 32 if self.unit == "F" else celsius

    def _set_point(self, params: list[str], query: bool) -> str | None:
        if query:
            return f"{self._shown(self.block.set_point):.3f}"
        value = number(params[0], default=self.min_set_point, minimum=-1e9, maximum=1e9)
        celsius = (value - 32) / 1.8 if self.unit == "F" else value
        if not self.min_set_point <= celsius <= self.max_set_point:
            raise ScpiError(-222)
        self.block.set(celsius)
        return None

    def _sensor(self, params: list[str], query: bool) -> str:
        what = params[0].upper() if params else "TEMP"
        reading = self.block.control_reading()
        self._recent = [(t, v) for t, v in self._recent if self.block.clock.now() - t <= 60.0]
        self._recent.append((self.block.clock.now(), reading))
        if what in ("TEMP", "TEMPERATURE"):
            return f"{self._shown(reading):.3f}"
        if what in ("RES", "RESISTANCE"):
            return f"{pt100(reading):.4f}"          # the control PRT's resistance, not a temperature
        raise ScpiError(-224)

    def _reference_resistance(self, params: list[str], query: bool, n: str) -> str:
        if n not in ("", "1"):
            raise ScpiError(-114, "Header suffix out of range")    # one reference input
        assert self.reference_probe is not None
        return f"{pt100(self.reference_probe.reading()):.5f}"

    def _stability(self) -> float:
        values = [v for _, v in self._recent] or [self.block.control_reading()]
        return (max(values) - min(values)) / 2

    def _limit(self, params: list[str], query: bool) -> str | None:
        if query:
            return f"{self.block.stability_limit:.2f}"
        self.block.stability_limit = number(params[0], default=0.05, minimum=0.01, maximum=9.99)
        return None

    def _output(self, params: list[str], query: bool) -> str | None:
        if query:
            return "1" if self.block.output_on else "0"
        self.block.output(boolean(params[0]))
        return None

    def _unit(self, params: list[str], query: bool) -> str | None:
        if query:
            return self.unit
        word = params[0].strip().upper()
        if word not in ("C", "F"):
            raise ScpiError(-224)
        self.unit = word
        return None


class HartClassicSim(LineDevice):
    """The classic Hart protocol (§4.1 of the protocol notes, [C] 9140/9141 manuals, pymeasure's Fluke7341 test):
    `s=150` sets (no reply), `s` → `set: 150.00 C`, `t` → `t: 149.98 C`, `u` → `u: C`, `u=c|f` (set points and
    temperatures in that unit), `*ver` → `ver.9140,1.21`;
    with duplex full (`du=f`, the 9140's default) every command is echoed; with linefeed off (`lf=of`) replies
    end with CR only."""

    reply_termination = "\r\n"

    def __init__(self, block: ThermalBlock, *, model: str = "9140", firmware: str = "1.21", duplex_full: bool = True,
                 decimals: int = 2) -> None:
        self.block, self.model, self.firmware = block, model, firmware
        self.echo = duplex_full
        self.decimals = decimals
        self.unit = "C"              # u=c|f: set points and temperatures in this unit
        block.output(True)  # classic units have no output switch: heating is always on

    async def handle(self, line: str, session: Session) -> str | list[str] | None:
        cmd = line.replace(" ", "").lower()  # the protocol ignores spaces and case
        if cmd == "*ver":
            return f"ver.{self.model},{self.firmware}"
        if cmd.startswith("s="):
            try:
                value = float(cmd[2:])
                self.block.set((value - 32) / 1.8 if self.unit == "F" else value)
            except ValueError:
                return None  # classic units silently ignore what they cannot parse
            return None
        if cmd in ("s", "setpoint"):
            return f"set: {self._shown(self.block.set_point):.2f} {self.unit}"
        if cmd == "t":
            return f"t: {self._shown(self.block.control_reading()):.{self.decimals}f} {self.unit}"
        if cmd in ("u", "units"):
            return f"u: {self.unit}"
        if cmd.startswith("u=") and cmd[2:3] in ("c", "f"):
            self.unit = cmd[2].upper()
            return None
        if cmd.startswith("du="):
            self.echo = cmd[3:].startswith("f")
            return None
        if cmd.startswith("lf="):
            self.reply_termination = "\r" if cmd[3:].startswith("of") else "\r\n"
            return None
        if cmd in ("du", "lf"):
            return f"du: {'full' if self.echo else 'half'}" if cmd == "du" else \
                f"lf: {'off' if self.reply_termination == chr(13) else 'on'}"
        return None

    def _shown(self, celsius: float) -> float:
        return celsius * 1.8 + 32 if self.unit == "F" else celsius
