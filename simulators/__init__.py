"""Protocol-true hardware simulators backed by physical models."""
from .clock import SimClock
from .lab import SimulatedLab, SimulationConfigError, World
from .line_server import LineDevice, LineServer
from .operator import SimulatedOperator

__all__ = ["LineDevice", "LineServer", "SimClock", "SimulatedLab", "SimulatedOperator", "SimulationConfigError", "World"]
