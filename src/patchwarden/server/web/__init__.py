"""The web console: server-rendered pages at ``/`` over the same read queries and use cases
as the JSON API (no second copy of their logic), a few forms for the actions an operator's
role allows, every asset served locally (it works air-gapped).

- :mod:`.session`: sign-in with an operator token kept in an HttpOnly, SameSite=Strict
  cookie, checked on every request as the API checks a bearer token; CSRF tokens for forms.
- :mod:`.render`: the Jinja2 environment (autoescaped) and the page helper.
- :mod:`.charts`: inline SVG charts (pure functions of numbers; each with a text fallback).
- :mod:`.pages`: one module per page; :data:`.pages.ROUTERS` lists them.
"""

from patchwarden.server.web.app import install

__all__ = ["install"]
