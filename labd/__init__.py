"""labd: instrument control and data acquisition for an ISO/IEC 17025 calibration and testing laboratory.

The sub-packages are the repository's top-level folders: `labd.drivers` (transports and instrument drivers),
`labd.simulators`, `labd.procedures`, `labd.calc`, `labd.daemon` (configuration, records, run engine, service,
documents, CLI) and `labd.config` (the example lab). This module stays light: importing `labd` loads nothing.
"""
from importlib import metadata

try:
    __version__ = metadata.version("labd")
except metadata.PackageNotFoundError:   # running from a source tree that was never installed
    __version__ = "0+unknown"
