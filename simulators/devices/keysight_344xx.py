"""Keysight 34465A-class DMM (Truevolt 344xxA; also what 34401A/34410A clients send) over a raw SCPI socket
(TCP 5025 style, LF terminated), on the SCPI core (simulators/scpi.py).

Sources, with the protocol notes' marks (../shared/protocols/INSTRUMENT-PROTOCOLS.md §6.1–6.2):
- `*IDN?` reply format [D] (QCoDeS sim); `FUNC?` → `"VOLT"` with quotes [C] (pymeasure strips them);
  `CONF?` → `"VOLT +1.000000E+01,+3.000000E-06"` (function, range, resolution) [U].
- `CONF` / `MEAS?` with range and resolution, `DEF/MIN/MAX` [C] (pymeasure `MEAS:VOLT:DC? DEF,DEF`).
- `[SENS:]<function>:RANG[:AUTO]`, `:NPLC` (0.02, 0.06, 0.2, 1, 10, 100) [C] (QCoDeS PLCs["34465A"]),
  `ZERO:AUTO ON|OFF|ONCE` [C], `TRIG:SOUR IMM|BUS|EXT|INT`, `TRIG:COUN`, `TRIG:DEL[:AUTO]`, `SAMP:COUN` [C],
  `INIT` / `FETC?` (comma-separated) / `READ?`, `DATA:POIN?` [C] (pymeasure), `*TRG` [C].
- `ROUT:TERM?` → `FRON` [C]; `SYST:LFR?` → the line frequency, `+50` in Indonesia [C]; `SYST:VERS?` → `1994.0`
  (the SCPI version the 344xxA reports) [U]; `DISP:TEXT "…"`, `DISP:TEXT?`, `DISP:TEXT:CLE` [C];
  `*OPT?` → `DIG,MEM` (the options QCoDeS looks for) [U].
- Errors: `+0,"No error"`, `-113,"Undefined header"`, `-222,"Data out of range"`, `-224,"Illegal parameter
  value"` [D]; overload reads `+9.90000000E+37` [D].
"""
from __future__ import annotations

import re

from ..physics import MultimeterModel
from ..scpi import ScpiDevice, ScpiError, boolean, number, quoted

# function (as FUNC? names it) → (unit of the model, default range, ranges)
FUNCTIONS = {
    "VOLT": ("V", 10.0, (0.1, 1.0, 10.0, 100.0, 1000.0)), "VOLT:AC": ("V", 10.0, (0.1, 1.0, 10.0, 100.0, 750.0)),
    "CURR": ("A", 0.1, (1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0, 3.0)),
    "CURR:AC": ("A", 0.1, (1e-4, 1e-3, 0.01, 0.1, 1.0, 3.0)),
    "RES": ("OHM", 1e3, (100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9)),
    "FRES": ("OHM", 1e3, (100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9)),
}
# every spelling a client may use for a function → its FUNC? name
SPELLINGS = {"VOLT": "VOLT", "VOLT:DC": "VOLT", "VOLTAGE": "VOLT", "VOLTAGE:DC": "VOLT", "VOLT:AC": "VOLT:AC",
             "VOLTAGE:AC": "VOLT:AC", "CURR": "CURR", "CURR:DC": "CURR", "CURRENT": "CURR", "CURRENT:DC": "CURR",
             "CURR:AC": "CURR:AC", "CURRENT:AC": "CURR:AC", "RES": "RES", "RESISTANCE": "RES", "FRES": "FRES",
             "FRESISTANCE": "FRES"}
NPLCS = (0.02, 0.06, 0.2, 1.0, 10.0, 100.0)
OVERLOAD = "+9.90000000E+37"


def _e(value: float) -> str:
    return f"{value:+.8E}"


class Dmm344xxSim(ScpiDevice):
    def __init__(self, model: MultimeterModel, *, name: str = "34465A", serial: str = "MY57800123") -> None:
        super().__init__()
        self.model, self.name, self.serial = model, name, serial
        self.reset()
        func = r"(VOLT(?:AGE)?(?::(?:DC|AC))?|CURR(?:ENT)?(?::(?:DC|AC))?|RES(?:ISTANCE)?|FRES(?:ISTANCE)?)"
        # The function node is matched by the handlers below (it is a parameter-like part of the header).
        self.command("CONFigure", self._configure_query, True)
        self.command("SYSTem:VERSion", lambda p, q: "1994.0", True)
        self.command("SYSTem:LFRequency", lambda p, q: "+50", True)
        self.command("SYSTem:REMote", lambda p, q: None, False)
        self.command("SYSTem:LOCal", lambda p, q: None, False)
        self.command("SYSTem:RWLock", lambda p, q: None, False)
        self.command("SYSTem:BEEPer[:IMMediate]", lambda p, q: None, False)
        self.command("ROUTe:TERMinals", lambda p, q: "FRON", True)
        self.command("[SENSe:]FUNCtion[:ON]", self._function)
        # 34401A-compatible root forms that act on the present function [C] pymeasure HP34401A
        self.command("[SENSe:]ZERO:AUTO", lambda p, q: self._settings(self.function, p, q, "ZERO:AUTO"))
        self.command("INPut:IMPedance:AUTO", self._impedance_auto)
        self.command("[SENSe:]DETector:BANDwidth", self._bandwidth)
        self.command("TRIGger:SOURce", self._trigger_source)
        self.command("TRIGger:COUNt", self._trigger_count)
        self.command("TRIGger:DELay", self._trigger_delay)
        self.command("TRIGger:DELay:AUTO", self._trigger_delay_auto)
        self.command("SAMPle:COUNt", self._sample_count)
        self.command("INITiate[:IMMediate]", lambda p, q: self._initiate(), False)
        self.command("ABORt", lambda p, q: self._abort(), False)
        self.command("*TRG", lambda p, q: self._bus_trigger(), False)
        self.command("FETCh", lambda p, q: self._fetch(), True)
        self.command("READ", lambda p, q: self._read(), True)
        self.command("DATA:POINts", lambda p, q: f"+{len(self.memory)}", True)
        self.command("DISPlay[:STATe]", self._display)
        self.command("DISPlay[:WINDow1]:TEXT[:DATA]", self._display_text)
        self.command("DISPlay[:WINDow1]:TEXT:CLEar", lambda p, q: self._clear_text(), False)
        self._measure = re.compile(rf"^:?MEAS(?:URE)?:{func}$")
        self._conf = re.compile(rf"^:?CONF(?:IGURE)?:{func}$")
        self._setting = re.compile(rf"^:?(?:SENS(?:E)?:)?{func}:(RANG(?:E)?(?::AUTO)?|NPLC(?:YCLES)?|"
                                   rf"ZERO:AUTO|RES(?:OLUTION)?|APER(?:TURE)?(?::ENAB(?:LED)?)?)$")

    def identity(self) -> str:
        return f"Keysight Technologies,{self.name},{self.serial},A.02.16-02.40-02.16-00.51-03-01"

    def options(self) -> str:
        return "DIG,MEM"

    def reset(self) -> None:
        self.function = "VOLT"
        self.ranges = {f: spec[1] for f, spec in FUNCTIONS.items()}
        self.autorange = {f: True for f in FUNCTIONS}
        self.nplc = {f: 10.0 for f in FUNCTIONS}
        self.aperture = {f: 0.1 for f in FUNCTIONS}
        self.aperture_on = {f: False for f in FUNCTIONS}
        self.zero_auto = True
        self.trigger_source, self.trigger_count = "IMM", 1.0
        self.trigger_delay, self.trigger_delay_auto = 0.001, True
        self.samples = 1
        self.memory: list[float] = []
        self.triggers_left = 0
        self.display_on, self.text = True, ""
        self.impedance_auto, self.bandwidth = False, 20.0

    # --- measuring ---------------------------------------------------------------------------------------------
    def _reading(self) -> float:
        unit, _, _ = FUNCTIONS[self.function]
        return self.model.measure(unit)

    def _formatted(self, value: float) -> str:
        rng = self.ranges[self.function]
        return OVERLOAD if not self.autorange[self.function] and abs(value) > 1.2 * rng else _e(value)

    def _initiate(self) -> None:
        """INIT: with an immediate trigger the readings are taken at once; with BUS (or EXT) the meter waits
        for *TRG and takes the samples of one trigger each time (34465A manual, TRIGger:SOURce)."""
        self.memory = []
        if self.trigger_source in ("BUS", "EXT"):
            self.triggers_left = int(self.trigger_count)
            return
        self.memory = [self._reading() for _ in range(int(self.trigger_count) * self.samples)]

    def _bus_trigger(self) -> None:
        if self.trigger_source != "BUS" or self.triggers_left <= 0:
            raise ScpiError(-211, "Trigger ignored")
        self.memory += [self._reading() for _ in range(self.samples)]
        self.triggers_left -= 1

    def _abort(self) -> None:
        self.triggers_left = 0

    def _read(self) -> str:
        if self.trigger_source in ("BUS", "EXT"):
            raise ScpiError(-214, "Trigger deadlock")   # READ? with a bus trigger can never complete
        self._initiate()
        return self._fetch()

    def _fetch(self) -> str:
        if self.triggers_left > 0:
            raise ScpiError(-230)            # still waiting for triggers: the real meter would not answer yet
        if not self.memory:
            raise ScpiError(-230)
        return ",".join(self._formatted(v) for v in self.memory)

    def _set_range(self, function: str, text: str) -> None:
        word = text.strip().upper()
        ranges = FUNCTIONS[function][2]
        if word in ("AUTO",):
            self.autorange[function] = True
            return
        value = number(text, default=FUNCTIONS[function][1], minimum=ranges[0], maximum=ranges[-1])
        self.ranges[function] = next(r for r in ranges if value <= r * 1.2 or r == ranges[-1])
        self.autorange[function] = False

    def _execute(self, header: str, rest: str) -> str | None:
        """MEAS/CONF/<function>:… carry the function in the header; everything else is the core's table."""
        query = header.endswith("?")
        name = (header[:-1] if query else header).upper()
        params = [p.strip() for p in rest.split(",")] if rest else []
        try:
            for regex, handler in ((self._measure, self._meas), (self._conf, self._conf_set),
                                   (self._setting, self._settings)):
                m = regex.match(name)
                if m:
                    return handler(SPELLINGS[m.group(1)], params, query, *m.groups()[1:])
        except ScpiError as exc:
            self.error(exc.code, exc.message)
            return None
        except KeyError:
            self.error(-113)
            return None
        return super()._execute(header, rest)

    def _meas(self, function: str, params: list[str], query: bool) -> str | None:
        if not query:
            raise ScpiError(-113)
        self._conf_set(function, params, False)
        return self._read()

    def _conf_set(self, function: str, params: list[str], query: bool) -> str | None:
        if query:
            raise ScpiError(-113)
        self.function = function
        self.trigger_source, self.trigger_count = "IMM", 1.0
        self.samples = 1
        if params and params[0]:
            self._set_range(function, params[0])
        else:
            self.autorange[function] = True
        return None

    def _configure_query(self, params: list[str], query: bool) -> str:
        f = self.function
        resolution = self.ranges[f] * 3e-7 * (10 / self.nplc[f]) ** 0.5
        return f'"{f} {self.ranges[f]:+.6E},{resolution:+.6E}"'

    def _settings(self, function: str, params: list[str], query: bool, setting: str) -> str | None:
        setting = setting.upper()
        if setting.startswith("RANG") and setting.endswith("AUTO"):
            if query:
                return "1" if self.autorange[function] else "0"
            word = params[0].upper()
            if word == "ONCE":
                self.autorange[function] = False
            else:
                self.autorange[function] = boolean(word)
            return None
        if setting.startswith("RANG"):
            if query:
                return _e(self.ranges[function])
            self._set_range(function, params[0])
            return None
        if setting.startswith("NPLC"):
            if query:
                return _e(self.nplc[function])
            value = number(params[0], default=10.0, minimum=NPLCS[0], maximum=NPLCS[-1])
            if value not in NPLCS:
                raise ScpiError(-222)
            self.nplc[function] = value
            return None
        if setting.startswith("APER"):                   # [C] QCoDeS aperture_mode / aperture_time
            if setting.endswith(("ENAB", "ENABLED")):
                if query:
                    return "1" if self.aperture_on[function] else "0"
                self.aperture_on[function] = boolean(params[0])
                return None
            if query:
                return _e(self.aperture[function])
            self.aperture[function] = number(params[0], default=0.1, minimum=2e-5, maximum=1.0)
            self.aperture_on[function] = True
            return None
        if setting == "ZERO:AUTO":
            if query:
                return "1" if self.zero_auto else "0"
            word = params[0].upper()
            # ONCE zeroes now and leaves autozero off (34465A manual, SENSe:VOLTage:ZERO:AUTO)
            self.zero_auto = False if word == "ONCE" else boolean(word)
            return None
        if query:                                   # :RESolution?
            return _e(self.ranges[function] * 3e-7)
        number(params[0], default=3e-6, minimum=1e-9, maximum=1.0)
        return None

    # --- the rest of the tree ----------------------------------------------------------------------------------
    def _function(self, params: list[str], query: bool) -> str | None:
        if query:
            return f'"{self.function}"'
        name = quoted(params[0]).upper()
        if name not in SPELLINGS:
            raise ScpiError(-224)
        self.function = SPELLINGS[name]
        return None

    def _impedance_auto(self, params: list[str], query: bool) -> str | None:
        if query:
            return "1" if self.impedance_auto else "0"
        self.impedance_auto = boolean(params[0])
        return None

    def _bandwidth(self, params: list[str], query: bool) -> str | None:
        if query:
            return _e(self.bandwidth)
        value = number(params[0], default=20, minimum=3, maximum=200)
        if value not in (3, 20, 200):
            raise ScpiError(-224)
        self.bandwidth = value
        return None

    def _trigger_source(self, params: list[str], query: bool) -> str | None:
        if query:
            return self.trigger_source
        word = params[0].upper()
        source = {"IMM": "IMM", "IMMEDIATE": "IMM", "BUS": "BUS", "EXT": "EXT", "EXTERNAL": "EXT",
                  "INT": "INT", "INTERNAL": "INT"}.get(word)
        if source is None:
            raise ScpiError(-224)
        self.trigger_source = source
        return None

    def _trigger_count(self, params: list[str], query: bool) -> str | None:
        if query:
            return _e(self.trigger_count)
        self.trigger_count = 1e6 if params[0].upper() in ("INF", "INFINITY") else \
            number(params[0], default=1, minimum=1, maximum=1e6)
        return None

    def _trigger_delay(self, params: list[str], query: bool) -> str | None:
        if query:
            return _e(self.trigger_delay)
        self.trigger_delay = number(params[0], default=0.001, minimum=0.0, maximum=3600.0)
        self.trigger_delay_auto = False
        return None

    def _trigger_delay_auto(self, params: list[str], query: bool) -> str | None:
        if query:
            return "1" if self.trigger_delay_auto else "0"
        self.trigger_delay_auto = boolean(params[0])
        return None

    def _sample_count(self, params: list[str], query: bool) -> str | None:
        if query:
            return f"+{self.samples}"
        self.samples = int(number(params[0], default=1, minimum=1, maximum=1e6))
        return None

    def _display(self, params: list[str], query: bool) -> str | None:
        if query:
            return "1" if self.display_on else "0"
        self.display_on = boolean(params[0])
        return None

    def _display_text(self, params: list[str], query: bool) -> str | None:
        if query:
            return f'"{self.text}"'
        self.text = quoted(",".join(params))[:40]
        return None

    def _clear_text(self) -> None:
        self.text = ""
