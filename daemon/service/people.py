"""Who is acting, and what their role lets them do (ISO/IEC 17025 6.2.5, 7.11).

Identity comes from authentication, never from a payload: over MQTT it is the broker username (the topic
`<root>/cmd/<username>` that only that user may write, by the broker's ACL), on the dashboard the logged-in
session. The competence register maps broker usernames to operators (`mqtt_user`, by default the operator's
id). Roles rank trainee < technician < supervisor < manager (technical manager):

  technician  starts the procedures the register authorises, answers and controls the runs they started
  supervisor  also pauses, resumes, aborts, cancels and moves any run, answers any run's prompt it is
              authorised for, and checks documents (issue 15)
  manager     also authorises documents and changes registers and configuration

The service's own operator (role "service", the scheduler) is never reachable from a command.
"""
from __future__ import annotations

from labd.daemon.config import Config
from labd.daemon.config.models import ROLE_RANK as RANK

from .commands import CommandError

READ_ONLY = ("status", "list")


def operator_of_user(config: Config, user: str) -> str:
    """The operator a broker username authenticates; without a register, the username itself."""
    if not config.operators:
        return user
    for operator_id, entry in config.operators.items():
        if (entry.mqtt_user or operator_id) == user:
            if entry.role == "service":
                raise CommandError(f"broker user {user!r} is the service's own identity ({operator_id}); "
                                   f"commands cannot act as it")
            return operator_id
    raise CommandError(f"broker user {user!r} is not in the competence register (operators.toml: give an "
                       f"operator mqtt_user = {user!r})")


def rank(config: Config, operator: str) -> int:
    entry = config.operators.get(operator)
    if not config.operators:
        return RANK["manager"]          # no register: anyone authenticated may (the lab chose not to keep one)
    return RANK.get(entry.role, -1) if entry is not None else -1


def at_least(config: Config, operator: str, role: str, doing: str) -> None:
    if rank(config, operator) < RANK[role]:
        have = config.operators[operator].role if operator in config.operators else "no role"
        raise CommandError(f"{operator} ({have}) may not {doing}: it takes a {role}")


def may_control(config: Config, operator: str, run_operator: str, action: str, run_id: str) -> None:
    """Pause, resume, abort, cancel, move: one's own run, or any run as a supervisor."""
    if operator != run_operator:
        at_least(config, operator, "supervisor", f"{action} run {run_id}, started by {run_operator}")
    elif rank(config, operator) < RANK["technician"]:
        at_least(config, operator, "technician", f"{action} run {run_id}")


def may_answer(config: Config, operator: str, run_operator: str, procedure: str, run_id: str) -> None:
    """A run's prompt: its own operator, or a supervisor authorised for the procedure."""
    if operator != run_operator:
        at_least(config, operator, "supervisor", f"answer run {run_id}'s prompt, started by {run_operator}")
    entry = config.operators.get(operator)
    if config.operators and (entry is None or procedure not in entry.authorised):
        raise CommandError(f"{operator} is not authorised for {procedure} (operators.toml)")
