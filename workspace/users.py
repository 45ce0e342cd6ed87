"""Users, their passwords (scrypt, memory-hard), sessions and the throttle on login attempts."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update

from .db import Database
from .roles import TEAM_SCOPED, Role, parse_role
from .tables import login_attempts, sessions, users
from .times import now, stamp

# scrypt with N=2^14, r=8: 16 MiB and about 50 ms a guess, in the standard library (hashlib)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_MAXMEM = 64 * 1024 * 1024
SESSION_HOURS = 12
# at most this many failed logins in the window, per name and per address
THROTTLE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_IP = 20
MIN_PASSWORD = 10
NAME_CHARS = 80


class UserError(ValueError):
    """A user cannot be made or changed as asked (the message says why)."""


class Throttled(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"too many failed logins: try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    team: str | None
    active: bool

    @property
    def scope_team(self) -> str | None:
        """The one team this user sees, or None for every team."""
        return self.team if self.role in TEAM_SCOPED else None


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: str


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_MAXMEM)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=_MAXMEM, dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))  # an unknown name costs as much time as a wrong password


def new_password() -> str:
    return secrets.token_urlsafe(12)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(row: object) -> User:
    m = row._mapping  # type: ignore[attr-defined]
    return User(m["id"], m["name"], Role(m["role"]), m["team"], bool(m["active"]))


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_CHARS or any(c.isspace() and c != " " for c in name) or not name.isprintable():
        raise UserError(f"user name {name!r}: 1-{NAME_CHARS} printable characters")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


class UserStore:
    def __init__(self, db: Database):
        self.db = db

    # ---- users ----------------------------------------------------------------------------------
    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    def add(self, name: str, role: Role | str, password: str, team: str | None = None) -> User:
        name, role = check_name(name), parse_role(str(role))
        team = (team or "").strip() or None
        if role in TEAM_SCOPED and not team:
            raise UserError(f"a {role.value} needs a team (--team)")
        with self.db.write() as conn:
            if conn.execute(select(users.c.id).where(users.c.name == name)).first():
                raise UserError(f"user {name!r} exists already")
            row_id = conn.execute(insert(users).values(
                name=name, role=role.value, team=team, password_hash=hash_password(check_password(password)),
                active=True, created_at=stamp())).inserted_primary_key[0]
        return User(int(row_id), name, role, team, True)

    def get(self, user_id: int) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def by_name(self, name: str) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        return _user(row) if row else None

    def all(self) -> list[User]:
        with self.db.read() as conn:
            return [_user(r) for r in conn.execute(select(users).order_by(users.c.name))]

    def with_role(self, role: Role, team: str | None = None) -> list[User]:
        query = select(users).where(users.c.role == role.value, users.c.active.is_(True))
        if team is not None:
            query = query.where(users.c.team == team)
        with self.db.read() as conn:
            return [_user(r) for r in conn.execute(query.order_by(users.c.name))]

    def change(self, user_id: int, *, role: Role | str | None = None, team: str | None = None,
               active: bool | None = None, password: str | None = None) -> User:
        values: dict[str, object] = {}
        if role is not None:
            values["role"] = parse_role(str(role)).value
        if team is not None:
            values["team"] = team.strip() or None
        if active is not None:
            values["active"] = active
        if password is not None:
            values["password_hash"] = hash_password(check_password(password))
        with self.db.write() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
            if row is None:
                raise UserError(f"no user {user_id}")
            merged = {**row._mapping, **values}
            if Role(merged["role"]) in TEAM_SCOPED and not merged["team"]:
                raise UserError(f"a {merged['role']} needs a team")
            if values:
                conn.execute(update(users).where(users.c.id == user_id).values(**values))
            if active is False or password is not None:  # a disabled user or a new password ends every session
                conn.execute(sessions.delete().where(sessions.c.user_id == user_id))
        changed = self.get(user_id)
        assert changed is not None
        return changed

    # ---- logging in -----------------------------------------------------------------------------
    def throttled_for(self, name: str, ip: str, at: dt.datetime | None = None) -> int:
        """Seconds until this name and address may try again (0: now)."""
        at = at or now()
        since = stamp(at - THROTTLE_WINDOW)
        waits = []
        with self.db.read() as conn:
            for column, value, limit in ((login_attempts.c.name, name, MAX_FAILURES_PER_NAME),
                                         (login_attempts.c.ip, ip, MAX_FAILURES_PER_IP)):
                times = conn.execute(select(login_attempts.c.at).where(
                    column == value, login_attempts.c.ok.is_(False), login_attempts.c.at >= since)
                    .order_by(login_attempts.c.at.desc()).limit(limit)).scalars().all()
                if len(times) >= limit:  # free again when the oldest of the last `limit` failures leaves the window
                    free = dt.datetime.fromisoformat(times[-1]) + THROTTLE_WINDOW
                    waits.append(max(1, int((free - at).total_seconds()) + 1))
        return max(waits, default=0)

    def authenticate(self, name: str, password: str, ip: str) -> User | None:
        """The user with this name and password, or None; raises Throttled after too many failures. Every
        attempt is recorded (the throttle counts them)."""
        name = name.strip()[:NAME_CHARS]
        wait = self.throttled_for(name, ip)
        if wait:
            raise Throttled(wait)
        with self.db.read() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        ok = verify_password(password, row._mapping["password_hash"] if row else _DUMMY_HASH)
        ok = ok and row is not None and bool(row._mapping["active"])
        with self.db.write() as conn:
            at = now()
            conn.execute(login_attempts.delete().where(login_attempts.c.at < stamp(at - dt.timedelta(days=1))))
            conn.execute(insert(login_attempts).values(name=name, ip=ip, at=stamp(at), ok=ok))
        return _user(row) if ok and row is not None else None

    # ---- sessions -------------------------------------------------------------------------------
    def start_session(self, user: User, ip: str) -> tuple[str, Session]:
        """A new session: the cookie value (only its hash is stored) and the session."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        started = now()
        expires = stamp(started + dt.timedelta(hours=SESSION_HOURS))
        with self.db.write() as conn:
            conn.execute(sessions.delete().where(sessions.c.expires_at < stamp(started)))  # tidy expired ones
            conn.execute(insert(sessions).values(token_hash=_token_hash(token), user_id=user.id, csrf=csrf,
                                                 created_at=stamp(started), expires_at=expires, ip=ip))
        return token, Session(user, csrf, expires)

    def session(self, token: str) -> Session | None:
        """The live session of a cookie (read only: looking a session up writes nothing)."""
        if not token or len(token) > 200:
            return None
        with self.db.read() as conn:
            row = conn.execute(
                select(sessions.c.csrf, sessions.c.expires_at, users)
                .join(users, users.c.id == sessions.c.user_id)
                .where(sessions.c.token_hash == _token_hash(token))).first()
        if row is None or row._mapping["expires_at"] < stamp() or not row._mapping["active"]:
            return None
        return Session(_user(row), row._mapping["csrf"], row._mapping["expires_at"])

    def end_session(self, token: str) -> None:
        with self.db.write() as conn:
            conn.execute(sessions.delete().where(sessions.c.token_hash == _token_hash(token)))
