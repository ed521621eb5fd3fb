"""The one exception type the CLI turns into a one-line message and a non-zero exit."""

from __future__ import annotations


class HarnessError(Exception):
    """A user-facing error: the message names the bad value and the valid choices."""
