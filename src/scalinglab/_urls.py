"""Store locations as they may be shown: the one password mask (`mask_url`) every message, log line and
report that names a store goes through. No SQLAlchemy needed (the CLI's table commands use it too)."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["mask_url", "several_ats", "ENCODE_HINT"]

#: ``scheme://user:`` (or ``scheme:/user:``, as a path argument collapses ``//``) then the password up to the
#: LAST ``@`` of the line: a password holding an unencoded ``@`` is hidden whole
_CREDENTIALS = re.compile(r"^((?:[A-Za-z][\w+.\-]*)?:/{1,2}[^:/@?#\s]*:)([^?#]*)@(?=[^@/?#]*(?:[/?#]|$))")

#: what a store error says instead of the driver's message (which names the mis-read host, a piece of the
#: password) for a URL whose password holds an unencoded ``@``
ENCODE_HINT = ("the store URL has more than one '@' before its host, so the part of the password after the first "
               "'@' was read as the host name: URL-encode special characters in the password (%40 for @, %3A for "
               ":, %2F for /), or leave the password out of the URL and set $PGPASSWORD")


def mask_url(url: Any) -> str:
    """The store location ``url`` (a string, a path or an SQLAlchemy ``URL``) with any password replaced by
    ``***``, safe to print or log. Everything from ``user:`` to the last ``@`` is masked, so a password holding
    an unencoded ``@`` does not show either; a file path comes back as it is.

    >>> mask_url("postgresql+psycopg://lab:s3cr@t@db:5432/runs")
    'postgresql+psycopg://lab:***@db:5432/runs'
    """
    render = getattr(url, "render_as_string", None)  # an SQLAlchemy URL: its password unmasked, masked below
    text = render(hide_password=False) if callable(render) else str(url)
    return _CREDENTIALS.sub(r"\1***@", text, count=1)


def several_ats(location: Any) -> bool:
    """True when the store URL ``location`` has more than one ``@`` before its host: a password with an
    unencoded ``@``, which URL parsers split at the first one (reading the rest as the host name)."""
    text = str(location)
    if "://" not in text or text.lower().startswith("sqlite"):  # a file path may hold '@'
        return False
    authority = text.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]  # user:password@host:port
    return authority.count("@") > 1
