"""Errors a user can fix (bad flag, missing file, wrong shape): shown as one line, exit status 2."""


class UserError(Exception):
    """A mistake in the user's input; the message says what is wrong and how to fix it."""


class TrainingError(Exception):
    """Training cannot go on (e.g. a NaN loss); the last good checkpoint is kept."""
