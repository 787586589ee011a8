"""Links Glance writes on its own host, rewritten to the top's `/image`."""

from __future__ import annotations

import re
from typing import Any

# an absolute link with an API version segment: Glance writes its links as its root
# (`public_endpoint`, or the host it was asked on) followed by `/v2/...`
_VERSIONED = re.compile(r"^https?://[^/?#]+(?:/[^?#]*?)?(?P<rest>/v\d+(?:\.\d+)?(?:[/?#].*)?)$")


def to_top(href: str, glance_root: str, top_root: str) -> str:
    """`href`, a link Glance wrote, as the link to the same thing at the top: `top_root`
    (`<cascade>/image`) and what follows Glance's root (`glance_root`: `[image]
    glance_url`), or its `/v2/...` when Glance wrote another root (its
    `public_endpoint`). A relative link (Glance's bodies: `/v2/images/{id}`, relative to
    the endpoint) or one elsewhere is left as it is."""
    root = glance_root.rstrip("/")
    if href == root or href.startswith((root + "/", root + "?")):
        return top_root + href[len(root) :]
    found = _VERSIONED.match(href)
    if found is None:
        return href
    return top_root + found.group("rest")


def rewrite_hrefs(document: Any, glance_root: str, top_root: str) -> Any:
    """`document` (a version document) with every `href` string rewritten by `to_top`."""
    if isinstance(document, list):
        return [rewrite_hrefs(item, glance_root, top_root) for item in document]
    if isinstance(document, dict):
        return {
            key: to_top(value, glance_root, top_root)
            if key == "href" and isinstance(value, str)
            else rewrite_hrefs(value, glance_root, top_root)
            for key, value in document.items()
        }
    return document
