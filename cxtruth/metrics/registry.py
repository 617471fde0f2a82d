"""Every metric cxtruth computes: the shipped declarations, in the contract's order, then
the company's own KPIs declared in config.toml (`cxtruth.metrics.custom`)."""

from __future__ import annotations

from .adoption import FEATURE_ADOPTION
from .awareness import FEATURE_AWARENESS
from .churn import LOGO_CHURN, REVENUE_CHURN
from .declare import Metric
from .handoffs import HANDOFF_QUALITY
from .nps import NPS
from .onboarding import ONBOARDING_ENGAGEMENT, TIME_TO_VALUE
from .support import CLOSURE_TIME

# JSON and the scorecard list metrics in contract order, not journey order.
BUILT_IN: dict[str, Metric] = {m.key: m for m in (
    NPS, LOGO_CHURN, REVENUE_CHURN, FEATURE_ADOPTION, HANDOFF_QUALITY, CLOSURE_TIME,
    ONBOARDING_ENGAGEMENT, TIME_TO_VALUE, FEATURE_AWARENESS,
)}
