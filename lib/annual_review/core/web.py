"""What a published page may reach: nothing. The page policy every page we write carries, and the pattern that
finds a web or file address in text we are given (a config string, a narrative)."""

from __future__ import annotations

import re

# Pages we publish fetch nothing: no script, and styles, fonts and images only from the page itself.
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
                           "base-uri 'none'; form-action 'none'")

# A web or file address: a scheme (http:, file:, data:, javascript:, …) or a scheme-relative //host.name.
WEB_ADDRESS = re.compile(r"(?i)\b(?:https?|ftps?|file|wss?|data|javascript):|(?<![\w:])//[\w.-]+\.[a-z]{2,}")


def policy(*, script_nonce: str = "", connect_self: bool = False, site_images: bool = False) -> str:
    """The page policy, opened for one nonce'd script and requests to the page's own server (the preview's copy), or
    for pictures that are files of the same site (a city site's charts)."""
    extra = (f"; script-src 'nonce-{script_nonce}'" if script_nonce else "") + ("; connect-src 'self'" if connect_self else "")
    base = CONTENT_SECURITY_POLICY.replace("img-src data:", "img-src 'self' data:") if site_images else CONTENT_SECURITY_POLICY
    return base + extra
