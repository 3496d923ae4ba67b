"""Domain exceptions that carry a message for people (in Chinese).

The CLI turns a ``Refused`` into exit code 1 with its message on stderr; the
web app renders it as a page or JSON.  Anything else is a bug and is not
swallowed.
"""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    """The input was refused; ``message`` says what is wrong and what to do."""

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(Refused):
    """A named thing (township, village, batch, user) does not exist."""


class Forbidden(Refused):
    """The user's role or township does not allow this."""


class ConfigError(Exception):
    """A setting has a value we cannot use; the message names it in Chinese.

    Not a ``Refused``: it stops start-up (or a command) before any request is served.
    """
