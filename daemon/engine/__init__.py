"""Running a procedure with its record, on the bench's instruments: the part shared by `labd run` and the
service. Nothing here talks to a person or a network; the CLI and the service do that around it."""
from .bench import bench, build_instruments, close_all
from .runner import (FINISHED, Resumed, RunFailed, RunRefused, authorise, execute, history_from, load_for_resume,
                     new_run_id, parameters, procedure, run_control, start_record)

__all__ = ["FINISHED", "Resumed", "RunFailed", "RunRefused", "authorise", "bench", "build_instruments", "close_all",
           "execute", "history_from", "load_for_resume", "new_run_id", "parameters", "procedure", "run_control",
           "start_record"]
