"""What a run tells its record and its live views: one name per kind of event, so the procedures, the record,
the service and the terminal spell them alike. The values are the `kind` of the record's events."""
from __future__ import annotations

from enum import StrEnum


class Event(StrEnum):
    STATE = "state"                     # the run's state: queued, running, completed, failed, aborted, ...
    READING = "reading"                 # a reading being recorded (live views; the reading itself is the record)
    STEP = "step"                       # progress: done of total, with a label
    REPETITION = "repetition"
    SET_POINT = "set_point"             # a new set point begins
    HEATING = "heating"
    STABILISING = "stabilising"
    STABLE = "stable"
    IDENTIFIED = "identified"           # what the instruments said they are
    ITEM = "item"                       # the unit under test as the certificate names it (declared, reported)
    STANDARD_USED = "standard_used"     # the certificate of a standard the run relies on
    POINT_COMPLETE = "point_complete"   # with what is needed to evaluate the point again
    POINT_RESUMED = "point_resumed"
    LOGGING = "logging"
    STANDBY = "standby"
    PROMPT = "prompt"
    ANSWER = "answer"
    ANSWER_REFUSED = "answer_refused"
    ANSWERED_BY = "answered_by"
    PROMPT_WITHDRAWN = "prompt_withdrawn"
    PAUSED = "paused"
    RESUMED = "resumed"
    SUSPENDED = "suspended"
    CONTROL = "control"                 # pause, resume, abort asked for, and by whom
    QUEUE = "queue"                     # a queued run's place and what it waits for
    SAFE_STATE = "safe_state"
    SAFE_STATE_FAILED = "safe_state_failed"
    AMBIENT_UNAVAILABLE = "ambient_unavailable"
    IMMERSION_TEST = "immersion_test"   # the correction's change with the unit under test withdrawn
