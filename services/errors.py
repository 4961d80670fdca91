"""User errors of the command line: what ``coalchain`` prints as one line (no traceback unless ``-v``).

    UserError (Exception)                    a mistake in the user's input: a file, a field, an address
    ├── InputFileError (ValueError)          a file the user named is missing, unreadable or malformed
    └── Unreachable (OSError)                a server the user pointed at does not answer (database, broker)

``services.cli.main`` catches :data:`USER_ERRORS`, prints ``coalchain <command>: <message>`` and exits 2.
``Unreachable`` is also an ``OSError``, so code that retried on ``OSError`` still does.
"""

from __future__ import annotations

import re


class UserError(Exception):
    exit_code = 2


class InputFileError(UserError, ValueError):
    pass


class Unreachable(UserError, OSError):
    pass


def redact_url(url: str) -> str:
    """A connection URL without its password."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)


USER_ERRORS: tuple[type[BaseException], ...] = (UserError,)
