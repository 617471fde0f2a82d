"""Presets: the reading settings and default column mapping of the tools people export from.

`preset = "<tool>"` under `[sources.<name>]` fills every key the user did not
set (header rows, trailers, date formats, zone, filters, column mapping);
whatever the user sets wins, key by key, and mapped columns merge with the
preset's. Each preset's layout comes from the tool's public documentation and
public code: tests/data/presets/<tool>/SOURCE.md cites every fact, and a
fixture written to that layout is read in tests/test_presets.py.

`must_map` names the canonical columns a preset cannot know (the NPS question
is a question the company wrote; the account id is a property it chose): the
config is an error until they are mapped, saying which header to look for.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    name: str
    tool: str
    source: str  # the cxtruth source it feeds
    where_in_tool: str
    settings: dict = field(default_factory=dict)  # [sources.<name>] keys other than columns
    columns: dict = field(default_factory=dict)  # canonical -> the export's header
    must_map: dict = field(default_factory=dict)  # canonical -> what to look for in the export
    signature: tuple[str, ...] = ()  # headers that tell this export apart (cxtruth init)
    note: str = ""  # what to check: unconfirmed parts of the layout

    def applied(self, table: dict) -> dict:
        """``table`` (a [sources.<name>] table as written) with this preset's defaults under it."""
        merged = {**self.settings, **{k: v for k, v in table.items() if k not in ("preset", "columns")}}
        merged["columns"] = {**self.columns, **table.get("columns", {})}
        return merged


_QUALTRICS_NOT_RESPONSES = ["Survey Preview", "Survey Test", "Spam", "Preview Spam", "Offline Preview",
                            "1", "2", "8", "9", "17"]

PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset(
        "qualtrics", "Qualtrics", "nps",
        "Survey > Data & Analysis > Export & Import > Export Data > CSV (numeric values)",
        settings={"header_row": 1, "skip_rows": 2, "skip_blank": ["score"],  # line 2: question text, 3: ImportIds
                  "where": f"Status not in {_QUALTRICS_NOT_RESPONSES!r} and Finished in ['True', 'true', '1']"
                  .replace("'", '"')},
        columns={"response_id": "ResponseId", "responded_at": "RecordedDate"},
        must_map={"score": "the NPS question's column on line 1 (e.g. Q1)"},
        signature=("ResponseId", "RecordedDate", "Finished", "Status"),
        note="Dates are in the zone chosen at export (line 3 shows it: \"timeZone\":\"Z\" is UTC): set timezone.",
    ),
    Preset(
        "surveymonkey", "SurveyMonkey", "nps",
        "Analyze Results > Save as > Export file > All responses data > CSV (actual answer text)",
        settings={"header_rows": 2, "date_format": "%m/%d/%Y %I:%M:%S %p", "skip_blank": ["score"]},
        columns={"response_id": "Respondent ID", "responded_at": "End Date"},
        must_map={"score": "the NPS question's text on line 1 (its 'Response' column)"},
        signature=("Respondent ID", "Collector ID", "Start Date", "End Date"),
        note="The date format and zone of Start/End Date are unconfirmed (tests/data/presets/surveymonkey).",
    ),
    Preset(
        "typeform", "Typeform", "nps",
        "Results > Responses > Download all responses > CSV",
        settings={"timezone": "UTC", "where": '"Submit Date (UTC)" is not null', "skip_blank": ["score"]},
        columns={"response_id": "#", "responded_at": "Submit Date (UTC)"},
        must_map={"score": "the opinion-scale (NPS) question's title"},
        signature=("#", "Submit Date (UTC)", "Network ID"),
    ),
    Preset(
        "delighted", "Delighted", "nps",
        "Dashboard > Export > Download CSV",
        settings={"date_format": ["%Y-%m-%d %H:%M:%S UTC"], "timezone": "UTC", "skip_blank": ["score"]},
        columns={"response_id": "Response ID", "responded_at": "Created At", "score": "Score", "comment": "Comment"},
        signature=("Response ID", "Score", "Comment", "Created At", "Permalink"),
        note="Provisional: no public source shows Delighted's CSV headers; check them against your file.",
    ),
    Preset(
        "zendesk", "Zendesk", "feedback",
        "Admin Center > Account > Tools > Reports > Export > CSV (tickets)",
        columns={"feedback_id": "Id", "received_at": "Created at", "closed_at": "Solved at", "channel": "Via",
                 "account_id": "Organization"},
        signature=("Summation column", "Id", "Requester", "Solved at"),
        note="Dates are in the account's default time zone, with no offset: set timezone to it.",
    ),
    Preset(
        "jira-service-management", "Jira Service Management", "feedback",
        "Filters > Search work items > Export > Export Excel CSV (all fields)",
        settings={"date_format": "%d/%b/%y %I:%M %p"},
        columns={"feedback_id": "Issue key", "received_at": "Created", "closed_at": "Resolved"},
        signature=("Summary", "Issue key", "Issue id", "Issue Type"),
        note="Dates follow the exporting user's zone and the instance's date format and language "
             "(set timezone; locale for month names such as 'ago' or 'dic').",
    ),
    Preset(
        "freshdesk", "Freshdesk", "feedback",
        "Tickets > Export > CSV (pick the fields, including Created time and Resolved time)",
        columns={"feedback_id": "Ticket ID", "received_at": "Created time", "closed_at": "Resolved time",
                 "channel": "Source"},
        signature=("Ticket ID", "Created time", "Resolved time"),
        note="Times are in the helpdesk's zone, with no offset: set timezone.",
    ),
    Preset(
        "intercom", "Intercom", "feedback",
        "Reports > Conversations > Export > CSV",
        settings={"timezone": "header"},
        columns={"feedback_id": "Conversation ID", "received_at": "Conversation started at (*)",
                 "closed_at": "Conversation last closed at (*)", "channel": "Channel",
                 "account_id": "Company ID"},
        signature=("Conversation ID", "Current conversation state"),
        note="Each time column's header names its zone, e.g. '(America/New_York)': the preset reads it.",
    ),
    Preset(
        "salesforce-report", "Salesforce (report export)", "accounts",
        "Report > Export > Details Only > Comma Delimited .csv",
        settings={"date_format": "%m/%d/%Y", "thousands": ","},
        columns={"account_id": "Account ID"},
        must_map={"start_date": "the report's customer-since date column",
                  "churn_date": "the report's churn date column (blank while a customer)"},
        signature=("Account ID", "Account Name"),
        note="Dates and numbers follow the exporting user's locale; this preset is en_US (set date_format "
             "and decimal for others). The report's trailer lines are skipped.",
    ),
    Preset(
        "hubspot", "HubSpot", "accounts",
        "CRM > Companies > Export view > CSV",
        columns={"account_id": "Record ID", "start_date": "Became a Customer Date"},
        settings={"where": '"Became a Customer Date" is not null'},
        must_map={"churn_date": "your churn date property (e.g. 'Churn Date')",
                  "mrr": "your MRR property (not 'Annual Revenue', which is the company's own revenue)"},
        signature=("Record ID", "Company name", "Create Date"),
        note="Datetimes are in the portal's zone: set timezone.",
    ),
    Preset(
        "stripe", "Stripe", "accounts",
        "Billing > Subscriptions > Export (all columns)",
        settings={"timezone": "UTC", "where": 'Status not in ["incomplete", "incomplete_expired"]',
                  "combine_repeated": True,
                  "compute": {"mrr": "monthly(`Plan Amount` * Quantity, `Plan Interval`)"}},
        columns={"account_id": "Customer ID", "start_date": "Start Date (UTC)", "churn_date": "Ended At (UTC)"},
        signature=("Customer ID", "Plan Interval", "Current Period End (UTC)"),
        note="One row per subscription: a customer's rows are combined (earliest start; churned when every "
             "subscription ended; MRR of the live ones, each price times quantity per month). Churn is Ended At, "
             "not Canceled At (when cancellation was asked for). Amounts are in the plan's currency units.",
    ),
    Preset(
        "mixpanel", "Mixpanel", "adoption",
        "Raw Event Export API (export.jsonl): one JSON object per line",
        settings={"date_format": "epoch", "where": 'not event in ["$identify", "$create_alias", "$merge", '
                                                   '"$mp_web_page_view"]'},
        columns={"feature": "event", "used_at": "properties.time"},
        must_map={"account_id": "the account property inside properties (e.g. 'properties.company_id')"},
        signature=("event", "properties.time", "properties.distinct_id"),
    ),
    Preset(
        "amplitude", "Amplitude", "adoption",
        "Export API / Data > Export (zip of .json.gz files, one event per line)",
        settings={"timezone": "UTC", "where": 'not event_type in ["$identify", "$groupidentify", '
                                               '"session_start", "session_end"]'},
        columns={"feature": "event_type", "used_at": "event_time"},
        must_map={"account_id": "the account property (e.g. 'user_properties.account_id' or 'groups.company')"},
        signature=("event_type", "event_time", "amplitude_id"),
    ),
    Preset(
        "posthog", "PostHog", "adoption",
        "Activity > Events > Export > CSV (include the account property)",
        settings={"where": 'not event in ["$pageview", "$pageleave", "$autocapture", "$identify", '
                           '"$groupidentify", "$feature_flag_called", "$rageclick", "$set"]'},
        columns={"feature": "event", "used_at": "timestamp"},
        must_map={"account_id": "the account property column (e.g. 'properties.company_id')"},
        signature=("event", "timestamp", "distinct_id"),
    ),
)}
