"""The citizen web (``/ciudadano/``): follow a case with its tracking code, file a case.

Spanish, mobile first, no JavaScript needed: the service search is a plain GET form whose
results come back as radio buttons inside the filing form. Abuse controls: a CSRF
double-submit cookie (there is no session for citizens), a honeypot field, a per-IP limit
of filings and of failed lookups (PostgreSQL, shared by every process), a one-time token
per form so a double click files one case, and size limits read while streaming the
multipart body (the app-wide ``client_max_size`` is far below a photo).
"""

from agent_desktop.citizen.views import setup_citizen_routes

__all__ = ["setup_citizen_routes"]
