"""All ORM rows; importing this module registers every table on ``Base.metadata``."""

from case_core.db.models.admin import (  # noqa: F401
    AdminAuditRow,
    DirectoryChangeRow,
    EntityContactRow,
    LoginAttemptRow,
)
from case_core.db.models.base import Base
from case_core.db.models.callback_extra import CallbackOptOutRow  # noqa: F401
from case_core.db.models.callbacks import CallbackRow, SurveyAnswerRow
from case_core.db.models.calls import CallRow, IvrSessionRow, IvrStepRow
from case_core.db.models.cases import CaseHistoryRow, CaseNumberCounterRow, CaseRow
from case_core.db.models.citizen_channels import (  # noqa: F401
    AttachmentAccessRow,
    CaseAttachmentRow,
    Open311KeyRow,
    Open311PostRow,
    RateEventRow,
)
from case_core.db.models.citizens import CitizenPhoneRow, CitizenRow
from case_core.db.models.coordination import LeaseRow, PeriodicJobRunRow  # noqa: F401
from case_core.db.models.desk import CallWrapupRow, CaseSubmissionRow  # noqa: F401
from case_core.db.models.desktop import AgentStateEventRow, ScreenPopRow, WebSessionRow  # noqa: F401,E501
from case_core.db.models.directory import (
    AnnouncementRow,
    EntityRow,
    KnowledgeArticleRow,
    OfficeRow,
    ServiceRow,
)
from case_core.db.models.escalations import CaseEscalationRow  # noqa: F401
from case_core.db.models.mail import OutboundMailRow  # noqa: F401
from case_core.db.models.metrics import AmiLinkOutageRow  # noqa: F401
from case_core.db.models.quality import CaseAuditRow  # noqa: F401
from case_core.db.models.recordings import RecordingAccessRow, RecordingRow  # noqa: F401
from case_core.db.models.rollup import CallRollupBucketRow, CallRollupDirtyRow, CallRollupRow  # noqa: F401,E501
from case_core.db.models.users import UserRow

__all__ = [
    "AnnouncementRow",
    "Base",
    "CallRow",
    "CallbackRow",
    "CaseHistoryRow",
    "CaseNumberCounterRow",
    "CaseRow",
    "CitizenPhoneRow",
    "CitizenRow",
    "EntityRow",
    "IvrSessionRow",
    "IvrStepRow",
    "KnowledgeArticleRow",
    "OfficeRow",
    "ServiceRow",
    "SurveyAnswerRow",
    "UserRow",
]
