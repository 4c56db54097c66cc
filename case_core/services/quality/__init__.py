"""Quality services (Res. 12/2019): advisors and their entities, the weekly samples, audits
and the entities' replies, publication to the entities, action plans, the expired-cases report,
call evaluations and the quality figures. Access is decided here, not in the web layer.

The composition root wires :func:`run_weekly_quality_job` into ``cac311 serve``; the case page
shows :func:`audit_timeline_entries`.
"""

from __future__ import annotations

from case_core.services.quality.access import (
    CASE_NOT_FOUND,
    NOT_YOURS,
    PANAMA,
    actor_label,
    assigned_entity_ids,
    check_entity_access,
    visible_entity_ids,
)
from case_core.services.quality.advisors import (
    AssignedEntity,
    AssignmentLine,
    advisor_entities,
    assign_entity,
    assignments,
    end_assignment,
)
from case_core.services.quality.audits import (
    AuditSubject,
    Finding,
    Publication,
    audit_subject,
    audit_timeline_entries,
    entity_mail_recipients,
    publish_week,
    published_findings,
    reply_to_audit,
    save_audit,
)
from case_core.services.quality.calls import (
    CallSubject,
    CallToEvaluate,
    agent_evaluations,
    call_subject,
    call_work_list,
    draw_weekly_call_sample,
    save_call_evaluation,
)
from case_core.services.quality.figures import (
    AdvisorWeek,
    AgentAverage,
    EntityCriteria,
    QualityFigures,
    quality_figures,
)
from case_core.services.quality.plans import (
    EXPIRED_COLUMNS,
    ExpiredCase,
    PlanView,
    create_action_plan,
    entity_action_plans,
    expired_cases,
    expired_csv,
    open_action_plans,
    safe_cell,
    update_action_plan,
)
from case_core.services.quality.sample import (
    EntityWork,
    SampleReport,
    WorkItem,
    draw_weekly_sample,
    run_weekly_quality_job,
    work_list,
)

__all__ = [
    "AdvisorWeek",
    "AgentAverage",
    "AssignedEntity",
    "AssignmentLine",
    "AuditSubject",
    "CASE_NOT_FOUND",
    "CallSubject",
    "CallToEvaluate",
    "EXPIRED_COLUMNS",
    "EntityCriteria",
    "EntityWork",
    "ExpiredCase",
    "Finding",
    "NOT_YOURS",
    "PANAMA",
    "PlanView",
    "Publication",
    "QualityFigures",
    "SampleReport",
    "WorkItem",
    "actor_label",
    "advisor_entities",
    "agent_evaluations",
    "assign_entity",
    "assigned_entity_ids",
    "assignments",
    "audit_subject",
    "audit_timeline_entries",
    "call_subject",
    "call_work_list",
    "check_entity_access",
    "create_action_plan",
    "draw_weekly_call_sample",
    "draw_weekly_sample",
    "end_assignment",
    "entity_action_plans",
    "entity_mail_recipients",
    "expired_cases",
    "expired_csv",
    "open_action_plans",
    "publish_week",
    "published_findings",
    "quality_figures",
    "reply_to_audit",
    "run_weekly_quality_job",
    "safe_cell",
    "save_audit",
    "save_call_evaluation",
    "update_action_plan",
    "visible_entity_ids",
    "work_list",
]
