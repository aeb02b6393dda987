"""Logging for the command line and the service: readable text on a terminal, JSON lines for a log collector
(`--log-format json`, one object per line with time, level, logger and message)."""
from __future__ import annotations

import json
import logging
import sys
import time

# Libraries that log at ERROR for conditions labd handles and reports itself (a Modbus timeout it retries,
# a hex dump of a frame): quiet unless asked for with -v / -vv.
NOISY = ("pymodbus", "aiomqtt", "paho", "asyncio", "matplotlib", "fontTools", "weasyprint", "PIL", "urllib3",
         "influxdb_client", "pyvisa")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                       + f".{int(record.msecs):03d}Z",
               "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


FORMAT = "text"


def configure(verbose: int, fmt: str = "text") -> None:
    """-v: info; -vv: debug, including every byte exchanged with the instruments (`labd.io`)."""
    global FORMAT
    FORMAT = fmt
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    library_level = logging.CRITICAL + 1 if verbose == 0 else logging.WARNING if verbose == 1 else logging.DEBUG
    for name in NOISY:
        logging.getLogger(name).setLevel(library_level)
