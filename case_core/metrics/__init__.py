"""Call metrics, agent figures, entity scorecards and the monthly open-data publication.

The formulas are defined once, in :mod:`case_core.metrics.service_level`.
"""

from case_core.metrics.agents import AgentFigures, agent_figures
from case_core.metrics.callbacks import CallbackFigures, callback_figures
from case_core.metrics.calls import (
    CallMetrics,
    IntervalMetrics,
    call_metrics,
    call_metrics_csv,
    to_csv,
)
from case_core.metrics.outages import record_link_down, record_link_up
from case_core.metrics.scorecards import Scorecard, scorecards
from case_core.metrics.service_level import (
    FORMULAS,
    HEADLINE,
    CallCounts,
    ServiceLevel,
    Thresholds,
)

__all__ = [
    "FORMULAS",
    "HEADLINE",
    "AgentFigures",
    "CallbackFigures",
    "CallCounts",
    "CallMetrics",
    "IntervalMetrics",
    "Scorecard",
    "ServiceLevel",
    "Thresholds",
    "agent_figures",
    "callback_figures",
    "call_metrics",
    "call_metrics_csv",
    "record_link_down",
    "record_link_up",
    "scorecards",
    "to_csv",
]
