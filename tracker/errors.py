"""User-facing errors.

Every problem a user can cause (a missing file, a corrupt video, a malformed box or
ground-truth line, an unknown model name) raises :class:`InputError` with a one-line
message naming the problem. The command line prints that line and exits with status 2;
anything else is a bug and keeps its traceback.
"""


class AttentrackError(Exception):
    """Base class of the errors attentrack reports to users as one line."""

    exit_code = 2


class InputError(AttentrackError, ValueError):
    """Bad input: a file, a stream, a box, a ground-truth line or an argument."""
