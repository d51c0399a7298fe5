"""One-line errors for users, and the stage entry point that prints them."""
import sys


class StageError(Exception):
    """A user-facing problem: bad params, bad data, missing weights. Printed as one line."""


def run_stage(main):
    """Run a stage's main(); turn a StageError, or a missing input file, into a one-line
    message and exit code 1."""
    try:
        main()
    except StageError as err:
        sys.exit(f"error: {err}")
    except FileNotFoundError as err:
        sys.exit(f"error: missing input {err.filename}: run `dvc repro` to make it")
