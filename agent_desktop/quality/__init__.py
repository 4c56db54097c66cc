"""The quality team's pages (asesores de calidad), the liaisons' audit results and the
agents' own call evaluations. Handlers parse, call ``case_core.services.quality`` and render
templates of ``agent_desktop/quality/templates`` (which extend the desktop's ``base.html``).

Routes:

- ``/calidad``: the advisor's weekly work list (``?semana=AAAA-Wnn``), publish per entity.
- ``/calidad/casos/{id}``: the audit form (checklist, recording, comment, result).
- ``/calidad/entidades`` and ``/calidad/entidades/{id}``: the entity's month scorecard
  (``?mes=AAAA-MM``) with its action plans; ``.../vencidos``: the expired-cases report
  (``?formato=csv``).
- ``/calidad/llamadas`` and ``/calidad/llamadas/{call_id}``: agents' call evaluations.
- ``/mis-evaluaciones``: an agent's own evaluations.
- ``/supervisor/calidad``: the quality figures with charts (``?semanas=N``).
- ``/enlace/auditorias``: an entity's published audits; the liaisons answer each finding.
"""

from __future__ import annotations

from agent_desktop.quality.views import setup_quality_routes

__all__ = ["setup_quality_routes"]
