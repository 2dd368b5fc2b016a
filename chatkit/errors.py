"""The root of operator-side errors: what the person running chatkit must fix.

Settings that cannot be used, a ``mongod`` that cannot be found or started, a database
that does not answer, a server that cannot start: each is an ``OperatorError`` whose
text is one line for the operator and whose ``exit_code`` the CLI exits with. Errors
a client causes (bad input, bad token) are the domain's (``chatkit.domain.errors``).
"""

from __future__ import annotations


class OperatorError(RuntimeError):
    exit_code = 1


class UsageError(OperatorError):
    """The command was given something unusable (a setting, a missing program): exit 2."""

    exit_code = 2
