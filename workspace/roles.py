"""Who may do what. Seed 001 asks for graded access to recordings (调阅权限实行分级管理): full recordings only
to the people who review calls, a team lead only for its own team, trainers clips with the numbers toned
out, managers figures without audio, the administrator the user list only."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ANALYST = "analyst"  # 质检员: the queue, review pages, decisions
    TEAM_LEAD = "team_lead"  # 班组长: its team's calls and cases, appeals for its agents
    QA_LEAD = "qa_lead"  # 质检主管: rules on appeals, assigns reviewers, edits sampling, reads the audit log
    TRAINER = "trainer"  # 培训师: clips of confirmed findings, numbers toned out; never full recordings
    MANAGER = "manager"  # 经理: scorecards and case statistics; no audio
    ADMIN = "admin"  # 管理员: users


ROLE_LABEL = {Role.ANALYST: "质检员", Role.TEAM_LEAD: "班组长", Role.QA_LEAD: "质检主管", Role.TRAINER: "培训师",
              Role.MANAGER: "经理", Role.ADMIN: "系统管理员"}


class Permission(StrEnum):
    QUEUE = "queue"  # the queue, review pages and queue exports
    AUDIO = "audio"  # full recordings
    DECIDE = "decide"  # confirm a finding or mark it a false alarm
    APPEAL = "appeal"  # appeal a finding for an agent
    RULE = "rule"  # the final ruling on an appeal
    ASSIGN = "assign"  # sampling rules and review assignments
    REVIEW_ASSIGNED = "review_assigned"  # have review assignments
    CASES = "cases"  # the cases page and its transfer list
    OPEN_CASE = "open_case"  # open a case by hand from a call
    CASE_STATS = "case_stats"
    SCORECARD = "scorecard"
    CLIPS = "clips"  # clips of confirmed findings, numbers toned out
    AUDIT = "audit"  # read and export the audit log
    USERS = "users"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ANALYST: frozenset({Permission.QUEUE, Permission.AUDIO, Permission.DECIDE, Permission.REVIEW_ASSIGNED,
                             Permission.CASES, Permission.OPEN_CASE}),
    Role.TEAM_LEAD: frozenset({Permission.QUEUE, Permission.AUDIO, Permission.APPEAL, Permission.CASES}),
    Role.QA_LEAD: frozenset({Permission.QUEUE, Permission.AUDIO, Permission.DECIDE, Permission.RULE, Permission.ASSIGN,
                             Permission.REVIEW_ASSIGNED, Permission.CASES, Permission.OPEN_CASE, Permission.CASE_STATS,
                             Permission.SCORECARD, Permission.CLIPS, Permission.AUDIT}),
    Role.TRAINER: frozenset({Permission.CLIPS}),
    Role.MANAGER: frozenset({Permission.SCORECARD, Permission.CASE_STATS}),
    Role.ADMIN: frozenset({Permission.USERS}),
}

# roles that see one team's calls only (their user record names the team)
TEAM_SCOPED = frozenset({Role.TEAM_LEAD})


def allowed(role: Role | str, permission: Permission) -> bool:
    try:
        return permission in GRANTS[Role(role)]
    except ValueError:
        return False


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower().replace("-", "_"))
    except ValueError:
        raise ValueError(f"role {text!r}: one of {', '.join(r.value for r in Role)}") from None
