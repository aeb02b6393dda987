"""Running a procedure with its record, on the bench's instruments: the part shared by `labd run` and the
service. Nothing here talks to a person or a network; the CLI and the service do that around it."""
from .amendments import check_amendment
from .bench import bench, build_instruments, close_all
from .configuration import record_configuration
from .signatures import certificate_number, check_signature, sign_document
from .validation import PROCEDURE as VALIDATION, check_validator, record_validation
from .reservations import Conflict, Reservation, Reservations, describe as describe_claims, overlaps
from .runner import (FINISHED, Resumed, RunFailed, RunRefused, authorise, claims_of, execute, history_from,
                     load_for_resume, new_run_id, parameters, preflight, procedure, refuse, run_control,
                     set_state, start_record)

__all__ = ["FINISHED", "VALIDATION", "check_validator", "record_validation", "certificate_number", "check_amendment", "check_signature", "record_configuration", "sign_document", "Conflict", "Reservation", "Reservations", "Resumed", "RunFailed", "RunRefused", "authorise",
           "bench", "build_instruments", "claims_of", "close_all", "describe_claims", "execute", "history_from",
           "load_for_resume", "new_run_id", "overlaps", "parameters", "preflight", "procedure", "refuse", "run_control",
           "set_state", "start_record"]
