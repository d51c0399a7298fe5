"""One-line errors for users, and the stage entry point that prints them."""
import sys


class StageError(Exception):
    """A user-facing problem: bad params, bad data, missing weights. Printed as one line."""


def run_stage(main):
    """Run a stage's main(); turn a StageError into a one-line message and exit code 1."""
    try:
        main()
    except StageError as err:
        sys.exit(f"error: {err}")
