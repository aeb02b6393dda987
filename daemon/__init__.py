"""The daemon's layers, each a sub-package with a small public API, each depending only on those below it:

    cli        the `labd` command (one module per family of commands)
    service    `labd serve`: runs and the queue, commands, MQTT, streaming, schedules, dashboard, health
    documents  certificates and reports from the record, and a run's export
    engine     running a procedure with its record; the bench; instrument reservations
    records    the append-only, hash-chained records database: the writer and every query
    config     finding, loading and validating the configuration; where data goes

See docs/ARCHITECTURE.md; tests/test_layers.py keeps the dependencies pointing downwards.
"""
