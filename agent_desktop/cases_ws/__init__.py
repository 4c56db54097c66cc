"""The case workspace of 3-1-1 staff: the case page ``/casos/<número>``, the global search
``/buscar``, the work queues ``/colas`` and the case actions. Templates in ``templates/``."""

from agent_desktop.cases_ws.routes import setup_case_workspace_routes

__all__ = ["setup_case_workspace_routes"]
