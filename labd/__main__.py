"""`python -m labd` is the `labd` command."""
from labd.daemon.cli import main

main()
