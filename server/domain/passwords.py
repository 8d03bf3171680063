"""The console password policy: long enough, not a common password, not the username.

The common passwords are zxcvbn's list (the 30,000 most frequent passwords of public leaks, shipped with
the package and kept by its maintainers); a password is refused when it, lowercased, is on that list.
"""

from __future__ import annotations

import functools

MIN_LENGTH = 10
MAX_LENGTH = 200

TOO_SHORT = "Passwords need at least 10 characters."
TOO_COMMON = "This password is one of the most common ones; choose another."
HAS_USERNAME = "The password must not contain the username."
ONE_CHARACTER = "The password must not repeat one character."


@functools.cache
def common_passwords() -> frozenset[str]:
    """The common-password list (lowercase)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def password_problem(password: str, username: str = "") -> str | None:
    """Why ``password`` is refused for ``username`` (an English message, the catalog's msgid), or None."""
    if len(password) < MIN_LENGTH or len(password) > MAX_LENGTH:
        return TOO_SHORT
    lowered = password.lower()
    if len(set(lowered)) == 1:
        return ONE_CHARACTER
    if lowered in common_passwords() or lowered.rstrip("0123456789!.") in common_passwords():
        return TOO_COMMON
    name = username.strip().lower()
    if len(name) >= 3 and name in lowered:
        return HAS_USERNAME
    return None
