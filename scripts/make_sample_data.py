"""Generate the demo exports in sample_metrics/ (deterministic: same seed, same bytes).

The story for October 2026: handoff quality has slipped (Sales, off track),
feature awareness is low (Product, off track), NPS and logo churn are at risk,
feedback closure time has improved to on track, and adoption is climbing.

    python scripts/make_sample_data.py sample_metrics
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261031
FIRST, LAST = pd.Period("2025-01", "M"), pd.Period("2026-10", "M")
MONTHS = pd.period_range(FIRST, LAST, freq="M")
FEATURES = {"reports": 0.62, "dashboards": 0.50, "alerts": 0.38, "integrations": 0.28, "api": 0.18}
SEGMENTS = {"SMB": (0.55, 300, 900, 1.4), "Mid-Market": (0.30, 1500, 4000, 0.7),
            "Enterprise": (0.15, 6000, 20000, 0.35)}
CHECKLIST = ["goals_documented", "stakeholders_identified", "success_criteria_defined",
             "technical_requirements_captured", "kickoff_scheduled"]

PROMOTER_COMMENTS = [
    "Reports save my team hours every week.",
    "Support answered in minutes, great, \"human\" service.",
    "Dashboards are exactly what our board asked for 🎉",
    "Solid product; onboarding was smooth.\nWould recommend to peers.",
    "The alerts caught a churn risk before we did.",
]
PASSIVE_COMMENTS = ["Good, but the API docs are thin.", "Works, pricing is steep for us.", ""]
DETRACTOR_COMMENTS = [
    "Nobody told us what happened to our feature request, again.",
    "Our kickoff was rescheduled three times; the CSM didn't know our goals.",
    "Integration with our CRM broke twice this month, and support took a week.",
    "We were promised SSO during the sale. It is not on the roadmap?",
    "Export to <b>Excel</b> drops columns, see ticket #4411 & #4420.",
    "Too hard to find things; half the team never logged in after week 1.",
]


def month_progress(period: pd.Period) -> float:
    """0 at the first month, 1 at the last: drives each metric's story."""
    return (period - FIRST).n / (LAST - FIRST).n


def random_times(rng, start: pd.Timestamp, end: pd.Timestamp, n: int) -> pd.DatetimeIndex:
    span = (end - start).total_seconds()
    return pd.to_datetime(start.value + (rng.random(n) * span * 1e9).astype("int64")).floor("min")


def make_accounts(rng) -> pd.DataFrame:
    rows = []
    # 300 accounts from before the window, then ~13 new ones a month.
    starts = list(random_times(rng, pd.Timestamp("2023-01-01"), pd.Timestamp("2024-12-31"), 300).normalize())
    for period in MONTHS:
        n = int(rng.integers(11, 16))
        starts += list(random_times(rng, period.start_time, period.end_time, n).normalize())
    names, weights = list(SEGMENTS), [s[0] for s in SEGMENTS.values()]
    for i, start in enumerate(sorted(starts)):
        segment = names[rng.choice(len(names), p=weights)]
        _, low, high, churn_factor = SEGMENTS[segment]
        mrr = round(float(rng.uniform(low, high)), 2)
        churn_date = None
        for period in MONTHS:
            if period.start_time <= start:
                continue
            rate = (0.008 + 0.008 * month_progress(period)) * churn_factor
            if rng.random() < rate:
                churn_date = random_times(rng, period.start_time, period.end_time, 1)[0].normalize()
                break
        rows.append({"account_id": f"A{i + 1:04d}", "segment": segment, "start_date": start,
                     "churn_date": churn_date, "mrr": mrr})
    return pd.DataFrame(rows)


def make_adoption(rng, accounts: pd.DataFrame) -> pd.DataFrame:
    events = []
    end_of_data = LAST.end_time
    for account in accounts.itertuples():
        start = account.start_date
        churn = account.churn_date if pd.notna(account.churn_date) else end_of_data
        # Onboarding: a burst of usage in the first 30 days, better engaged early on.
        if start >= pd.Timestamp("2024-12-01"):
            p = month_progress(pd.Period(start, "M")) if start >= FIRST.start_time else 0
            active_days = int(rng.binomial(12, 0.55 - 0.18 * p))
            delay = float(rng.gamma(2.0, 4.0 + 3.0 * p))
            days = np.unique(np.minimum(delay + rng.random(active_days) * 26, 29.9))
            for d in days:
                at = start + pd.Timedelta(days=float(d))
                if at < churn:
                    feature = list(FEATURES)[int(rng.integers(0, 3))]
                    events.append((account.account_id, feature, at.floor("min")))
        # Steady use after onboarding: per feature and month, a chance of 1-4 events.
        for period in MONTHS:
            lo = max(period.start_time, start + pd.Timedelta(days=30))
            hi = min(period.end_time, churn)
            if lo >= hi:
                continue
            for feature, base in FEATURES.items():
                if rng.random() < base + 0.10 * month_progress(period):
                    for at in random_times(rng, lo, hi, int(rng.integers(1, 5))):
                        events.append((account.account_id, feature, at))
    frame = pd.DataFrame(events, columns=["account_id", "feature", "used_at"])
    frame = frame.sort_values(["used_at", "account_id"], kind="stable", ignore_index=True)
    frame["used_at"] = frame["used_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return frame


def active_in(accounts: pd.DataFrame, period: pd.Period) -> pd.DataFrame:
    churn = accounts["churn_date"]
    return accounts[(accounts["start_date"] <= period.end_time) &
                    (churn.isna() | (churn >= period.start_time))]


def make_nps(rng, accounts: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for period in MONTHS:
        pool = active_in(accounts, period)
        p = month_progress(period)
        for _, account in pool.sample(int(rng.integers(125, 175)), random_state=rng).iterrows():
            enterprise = account.segment == "Enterprise"
            promoter = 0.52 - 0.08 * p - (0.10 if enterprise else 0)
            detractor = 0.11 + 0.05 * p + (0.08 if enterprise else 0)
            u = rng.random()
            if u < promoter:
                score, comment = int(rng.integers(9, 11)), PROMOTER_COMMENTS
            elif u < promoter + detractor:
                score, comment = int(rng.integers(0, 7)), DETRACTOR_COMMENTS
            else:
                score, comment = int(rng.integers(7, 9)), PASSIVE_COMMENTS
            at = random_times(rng, period.start_time, period.end_time, 1)[0]
            # The survey tool exports UTC instants for some responses, local offsets for others.
            stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ") if rng.random() < 0.5 else \
                at.tz_localize("UTC").tz_convert("America/New_York").isoformat()
            text = comment[int(rng.integers(0, len(comment)))] if rng.random() < 0.6 else ""
            rows.append({"Response ID": f"R{len(rows) + 1:06d}", "Account": account.account_id,
                         "Submitted": stamp, "Score": score, "Comment": text, "Plan": account.segment})
    # What real survey exports contain now and then: a typo'd score, a US date, a resubmission.
    rows += [
        {"Response ID": "R900001", "Account": "A0412", "Submitted": "2026-10-14T09:12:00Z", "Score": "ten",
         "Comment": "Typed my score in words", "Plan": "SMB"},
        {"Response ID": "R900002", "Account": "A0101", "Submitted": "10/21/2026", "Score": 8,
         "Comment": "", "Plan": "Mid-Market"},
        {"Response ID": "R900003", "Account": "A0233", "Submitted": "2026-10-20T16:40:00Z", "Score": 11,
         "Comment": "", "Plan": "SMB"},
        dict(rows[-1], Comment="(resubmitted) " + rows[-1]["Comment"]),
    ]
    return pd.DataFrame(rows)


def make_handoffs(rng, accounts: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for account in accounts[accounts["start_date"] >= pd.Timestamp("2024-11-01")].itertuples():
        p = month_progress(pd.Period(account.start_date, "M")) if account.start_date >= FIRST.start_time else 0
        closed_won = account.start_date - pd.Timedelta(days=int(rng.integers(5, 15)))
        lag = int(rng.integers(1, 6 + int(6 * p)))
        done_rate = 0.93 - 0.27 * p ** 1.5
        row = {"handoff_id": f"H{len(rows) + 1:05d}", "account_id": account.account_id,
               "closed_won_at": closed_won.strftime("%Y-%m-%d"),
               "handoff_at": (closed_won + pd.Timedelta(days=lag)).strftime("%Y-%m-%d")}
        for item in CHECKLIST:
            row[item] = "yes" if rng.random() < done_rate else ("no" if rng.random() < 0.5 else "")
        row["csm_rating"] = int(np.clip(round(rng.normal(2 + 2.5 * done_rate, 0.8)), 1, 5))
        rows.append(row)
    return pd.DataFrame(rows)


def make_feedback(rng, accounts: pd.DataFrame) -> pd.DataFrame:
    rows = []
    channels = ["email", "in-app", "csm", "community"]
    for period in MONTHS:
        pool = active_in(accounts, period)
        p = month_progress(period)
        for _ in range(int(rng.integers(100, 140))):
            received = random_times(rng, period.start_time, period.end_time, 1)[0]
            closed = None
            if rng.random() > 0.06:
                days = float(rng.lognormal(np.log(16 - 10.5 * p), 0.6))
                closed = received + pd.Timedelta(days=days)
                if closed > LAST.end_time:
                    closed = None
            rows.append({"feedback_id": f"F{len(rows) + 1:06d}",
                         "account_id": pool.account_id.iloc[int(rng.integers(0, len(pool)))],
                         "received_at": received.strftime("%Y-%m-%d %H:%M"),
                         "closed_at": closed.floor("min").strftime("%Y-%m-%d %H:%M") if closed is not None else "",
                         "channel": channels[int(rng.integers(0, len(channels)))]})
    return pd.DataFrame(rows)


def make_awareness(rng, accounts: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for period in MONTHS:
        pool = active_in(accounts, period)
        p = month_progress(period)
        for _, account in pool.sample(int(rng.integers(40, 60)), random_state=rng).iterrows():
            at = random_times(rng, period.start_time, period.end_time, 1)[0]
            rid = f"W{len(rows) + 1:06d}"
            for feature, aware in (("alerts", 0.55), ("integrations", 0.45), ("api", 0.40)):
                rows.append({"response_id": rid, "account_id": account.account_id,
                             "responded_at": at.strftime("%Y-%m-%dT%H:%M:%S"), "feature": feature,
                             "aware": "yes" if rng.random() < aware - 0.05 * p else "no"})
    return pd.DataFrame(rows)


# Custom sources (docs/sources.md, "Custom sources"): a help desk's ticket export and the CSAT
# survey sent when a ticket is solved, over the trend's 13 months. Drawn from their own seed
# after everything else, so the built-in sources' files stay byte for byte as they were.
CUSTOM_SEED = SEED + 1
CUSTOM_MONTHS = MONTHS[-13:]
# Zendesk's ticket CSV export (Admin Center > Account > Tools > Reports > Export), in its column
# order (tests/data/presets/zendesk/SOURCE.md cites where each name comes from).
ZENDESK_COLUMNS = [
    "Summation column", "Id", "Requester", "Requester id", "Requester external id", "Requester email",
    "Requester domain", "Submitter", "Assignee", "Group", "Subject", "Tags", "Status", "Priority", "Via",
    "Ticket type", "Created at", "Updated at", "Assigned at", "Organization", "Due date", "Initially assigned at",
    "Solved at", "Resolution time", "Satisfaction Score", "Group stations", "Assignee stations", "Reopens",
    "Replies", "First reply time in minutes", "First reply time in minutes within business hours",
    "First resolution time in minutes", "First resolution time in minutes within business hours",
    "Full resolution time in minutes", "Full resolution time in minutes within business hours",
    "Agent wait time in minutes", "Agent wait time in minutes within business hours",
    "Requester wait time in minutes", "Requester wait time in minutes within business hours",
    "On hold time in minutes", "On hold time in minutes within business hours",
]
AGENTS = ["Priya Nair", "Tomás Ortega", "Hannah Weber", "Kofi Mensah", "Yuki Sato"]
REQUESTERS = ["Ana Ruiz", "Li Wei", "Sam O'Neill", "Marta Kowalska", "Jonas Berg", "Fatima Zahra", "Chris Lee",
              "Elif Demir", "Noah Smith", "Léa Martin"]
TICKET_SUBJECTS = {
    "Incident": ["Cannot log in", "Dashboard does not load", "Alerts stopped firing", "Export fails"],
    "Problem": ["CRM sync drops records", "Report totals differ from the API"],
    "Question": ["How do I share a dashboard?", "Where are API keys?", "Can we get SSO?"],
    "Task": ["Add a user to our account", "Change our billing contact"],
}
VIA = {"Mail": 0.40, "Web form": 0.30, "Chat": 0.18, "Phone call (incoming)": 0.07, "Web service": 0.05}
PRIORITY = {"Low": 0.25, "Normal": 0.50, "High": 0.20, "Urgent": 0.05}
CSAT_COMMENTS = {
    5: ["Fixed in one reply, thank you!", "Priya was brilliant, as always.", "Fast and friendly 👍"],
    4: ["Good answer, took a day though.", "Solved, but I had to explain it twice."],
    3: ["OK. The workaround is clunky.", ""],
    2: ["Slow, and the first answer didn't help.", "Closed before it was actually fixed."],
    1: ["Nobody replied for three days.", "Still broken; \"solved\" is not true."],
}


def _stamp(at: pd.Timestamp | None) -> str:
    return "" if at is None else at.strftime("%Y-%m-%d %H:%M:%S")


def make_tickets_and_csat(accounts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(Zendesk tickets, CSAT answers): first replies get faster and ratings better over the year."""
    rng = np.random.default_rng(CUSTOM_SEED)
    tickets, answers = [], []
    for period in CUSTOM_MONTHS:
        pool = active_in(accounts, period)
        p = (period - CUSTOM_MONTHS[0]).n / (len(CUSTOM_MONTHS) - 1)
        for created in sorted(random_times(rng, period.start_time, period.end_time, int(rng.integers(55, 75)))):
            created = created + pd.Timedelta(seconds=int(rng.integers(0, 60)))
            number = 48_200 + len(tickets) + 1
            kind = list(TICKET_SUBJECTS)[rng.choice(len(TICKET_SUBJECTS), p=[0.45, 0.15, 0.30, 0.10])]
            priority = list(PRIORITY)[rng.choice(len(PRIORITY), p=list(PRIORITY.values()))]
            via = list(VIA)[rng.choice(len(VIA), p=list(VIA.values()))]
            requester = REQUESTERS[int(rng.integers(0, len(REQUESTERS)))]
            agent = AGENTS[int(rng.integers(0, len(AGENTS)))]
            account = pool.account_id.iloc[int(rng.integers(0, len(pool)))]
            domain = f"{account.lower()}.example"
            first_reply = int(rng.lognormal(np.log(300 - 200 * p), 0.9)) + 1
            replied = created + pd.Timedelta(minutes=first_reply)
            if replied > LAST.end_time:
                first_reply, replied = None, None
            solved = None
            if replied is not None and rng.random() > 0.05:
                solved = replied + pd.Timedelta(hours=float(rng.lognormal(np.log(20), 1.0)))
                solved = solved.floor("s") if solved <= LAST.end_time else None
            status = ("Closed" if solved is not None and solved < LAST.end_time - pd.Timedelta(days=4) else
                      "Solved" if solved is not None else "Open" if replied is not None else "New")
            full = None if solved is None else int((solved - created).total_seconds() // 60)
            score = "Not Offered"
            if solved is not None:
                score = "Offered"
                if rng.random() < 0.45:  # the survey sent on solving was answered
                    at = solved + pd.Timedelta(minutes=float(rng.exponential(600)))
                    if at <= LAST.end_time:
                        good = 0.70 + 0.17 * p
                        rating = int(rng.integers(4, 6)) if rng.random() < good else int(rng.integers(1, 4))
                        score = "Good" if rating >= 4 else "Bad"
                        comments = CSAT_COMMENTS[rating]
                        answers.append({
                            "Submitted": _stamp(at.floor("s")),
                            "Rating (1-5)": rating,
                            "Comment": comments[int(rng.integers(0, len(comments)))] if rng.random() < 0.5 else "",
                            "Ticket ID": number, "Agent": agent, "Customer email": f"{requester.split()[0].lower()}@{domain}",
                        })
            updated = solved or replied or created
            tickets.append({
                "Summation column": 1, "Id": number, "Requester": requester,
                "Requester id": 361_000_000_000 + number, "Requester external id": "",
                "Requester email": f"{requester.split()[0].lower()}@{domain}", "Requester domain": domain,
                "Submitter": requester, "Assignee": agent if replied is not None else "", "Group": "Support",
                "Subject": TICKET_SUBJECTS[kind][int(rng.integers(0, len(TICKET_SUBJECTS[kind])))],
                "Tags": " ".join(t for t in (priority.lower(), via.split()[0].lower()) if t), "Status": status,
                "Priority": priority, "Via": via, "Ticket type": kind, "Created at": _stamp(created),
                "Updated at": _stamp(updated), "Assigned at": _stamp(replied), "Organization": account,
                "Due date": "", "Initially assigned at": _stamp(replied), "Solved at": _stamp(solved),
                "Resolution time": "" if full is None else round(full / 60), "Satisfaction Score": score,
                "Group stations": 1, "Assignee stations": 1 if replied is not None else 0,
                "Reopens": int(rng.random() < 0.06), "Replies": 0 if replied is None else int(rng.integers(1, 6)),
                "First reply time in minutes": "" if first_reply is None else first_reply,
                "First reply time in minutes within business hours": "" if first_reply is None else
                min(first_reply, int(first_reply * 0.6) + 1),
                "First resolution time in minutes": "" if full is None else full,
                "First resolution time in minutes within business hours": "" if full is None else int(full * 0.4),
                "Full resolution time in minutes": "" if full is None else full,
                "Full resolution time in minutes within business hours": "" if full is None else int(full * 0.4),
                "Agent wait time in minutes": "" if full is None else int(full * 0.7),
                "Agent wait time in minutes within business hours": "" if full is None else int(full * 0.3),
                "Requester wait time in minutes": "" if full is None else int(full * 0.3),
                "Requester wait time in minutes within business hours": "" if full is None else int(full * 0.1),
                "On hold time in minutes": 0, "On hold time in minutes within business hours": 0,
            })
    answers.sort(key=lambda row: row["Submitted"])
    csat = pd.DataFrame(answers)
    csat.insert(0, "Response ID", [f"CS-{n + 1:05d}" for n in range(len(csat))])  # numbered as submitted
    return pd.DataFrame(tickets, columns=ZENDESK_COLUMNS), csat


ACTIONS = [
    ("ACT-01", "Rebuild the sales-to-CS handoff checklist in the CRM", "Sales", "handoff_quality",
     "2026-08-13", "2026-10-15", "open", ""),
    ("ACT-02", "Weekly triage of unanswered feedback items", "Support", "closure_time",
     "2026-06-11", "2026-07-31", "done", "2026-07-28"),
    ("ACT-03", "Enterprise NPS detractor call-backs within 7 days", "Customer Success", "nps",
     "2026-09-10", "2026-11-20", "open", ""),
    ("ACT-04", "In-app announcement for integrations and API", "Product", "feature_awareness",
     "2026-09-10", "2026-10-31", "open", ""),
    ("ACT-05", "Churn-risk playbook for SMB accounts", "Customer Success", "logo_churn",
     "2026-07-09", "2026-09-30", "done", "2026-10-02"),
    ("ACT-06", "Publish the 'you asked, we did' changelog monthly", "Product", "closure_time",
     "2026-10-08", "2026-12-15", "open", ""),
    ("ACT-07", "Onboarding day-3 and day-10 check-ins", "Customer Success", "onboarding_engagement",
     "2026-05-14", "2026-06-30", "dropped", "2026-07-09"),
]


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    accounts = make_accounts(rng)
    files = {
        "adoption.csv": make_adoption(rng, accounts),
        "nps.csv": make_nps(rng, accounts),
        "handoffs.csv": make_handoffs(rng, accounts),
        "feedback.csv": make_feedback(rng, accounts),
        "awareness.csv": make_awareness(rng, accounts),
        "actions.csv": pd.DataFrame(ACTIONS, columns=["action_id", "title", "owner", "metric", "opened",
                                                      "due", "status", "closed"]),
    }
    export = accounts.copy()
    export["start_date"] = export["start_date"].dt.strftime("%Y-%m-%d")
    export["churn_date"] = export["churn_date"].map(lambda d: d.strftime("%Y-%m-%d") if pd.notna(d) else "")
    files["accounts.csv"] = export
    files["tickets.csv"], files["csat.csv"] = make_tickets_and_csat(accounts)
    for name, frame in sorted(files.items()):
        frame.to_csv(out / name, index=False, lineterminator="\n")
        print(f"{out / name}: {len(frame):,} rows")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sample_metrics")
