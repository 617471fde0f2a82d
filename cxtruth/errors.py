"""The one exception family users see.

The CLI catches `CxtruthError`, prints ``Error: <message>`` (and a hint where
there is one) and exits with the class's exit code; nothing else is shown.
"""


class CxtruthError(Exception):
    """A problem the user can fix; the message says what and where."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class ConfigError(CxtruthError):
    """config.toml is missing, unreadable or invalid."""

    exit_code = 3


class DataError(CxtruthError):
    """A source file cannot be read as the table the contract describes."""

    exit_code = 4


class RenderError(CxtruthError):
    """The report could not be rendered or written."""

    exit_code = 5


class LockHeld(CxtruthError):
    """Another run holds the lock for this output; this one wrote nothing."""

    exit_code = 6


class DeliveryError(CxtruthError):
    """The report was rendered and kept, but the email was not delivered."""

    exit_code = 7


class DeliveryUnknown(CxtruthError):
    """The whole message reached the server but it never confirmed it: it may or may not be delivered.

    Never retried automatically (a retry could deliver a second copy); a rerun
    without --force does not send either.
    """

    exit_code = 8
