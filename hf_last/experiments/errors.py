"""The error a driver raises when its arguments cannot work; the CLI turns it into a one-line exit message."""


class ExperimentSetupError(ValueError):
    """A driver's arguments cannot work (e.g. a split it cannot evaluate, an output folder that is not its own);
    the message says what to change."""
