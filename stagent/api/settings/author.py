"""GET /api/settings/author-default: the OS user's name, the default for "author" fields."""

from __future__ import annotations

import getpass

from .._http import Out, endpoint, ok


class AuthorOut(Out):
    author: str


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (a bare container)
        return ""


@endpoint(response=AuthorOut)
async def get_author_default(request):
    """The OS user name, used as the default author."""
    return ok({"author": os_user()})
