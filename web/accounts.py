"""Accounts of the web service: each person or system has its own name, role and scope, a
password (scrypt, salted) for the browser and any number of API tokens (stored as SHA-256 of a
256-bit random token) for their own systems.  A revoked account or credential, and an expired
one, is refused.  Browser sessions are tokens too, of kind ``session``.

Kept in their own database (``EWS_ACCOUNTS_DB``): the read models are dropped by a replay, the
accounts must not be.  Tables are created with ``create_all`` on start, like the notifier's
outbox.  Times come from an injectable clock (epoch seconds).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from domain.access import Principal, check_account

metadata = sa.MetaData()

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("township", sa.String(32)),
    sa.Column("unit", sa.String(64)),
    sa.Column("password_hash", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float),
)

credentials = sa.Table(
    "credentials",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # api | session
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float),
)

account_events = sa.Table(  # who created, revoked or issued what, when (the audit view)
    "account_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("by", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
)

login_failures = sa.Table(  # wrong passwords, per account and client, to slow down guessing
    "login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, index=True),
    sa.Column("client", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

SESSION_SECONDS = 12 * 3600  # a browser session lasts one working day
# this many wrong passwords within LOCK_SECONDS lock the account's logins from that client (an
# address) for LOCK_SECONDS; from elsewhere the account logs in as before, so nobody can lock a
# duty officer out by guessing at their name
LOCK_AFTER, LOCK_SECONDS = 5, 15 * 60
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
PASSWORD_MIN_CHARS = 8


class AccountError(ValueError):
    """An account operation that cannot be done (the message says why)."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    township: str | None
    unit: str | None
    revoked: bool

    def principal(self) -> Principal:
        return Principal(self.name, self.role, self.township, self.unit)


def acceptable(password: str) -> str:
    """The password, or ``AccountError`` when it is too short to be one."""
    if len(password) < PASSWORD_MIN_CHARS:
        raise AccountError(f"a password needs at least {PASSWORD_MIN_CHARS} characters")
    return password


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, _ = stored.split("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)), stored)


@functools.cache
def _decoy() -> str:
    """A hash to check a guess against where none may be checked (no such account, or locked),
    so that every answer costs the same one hash."""
    return hash_password(secrets.token_hex(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccountStore:
    """The accounts and credentials, in their own database."""

    def __init__(self, engine: sa.Engine, now: Callable[[], float] = time.time) -> None:
        self.engine, self.now = engine, now
        metadata.create_all(engine)

    def add(
        self,
        name: str,
        role: str,
        *,
        township: str | None = None,
        unit: str | None = None,
        password: str | None = None,
        by: str = "admin",
    ) -> Account:
        check_account(role, township, unit)
        if not name or len(name) > 64:
            raise AccountError("an account name has 1 to 64 characters")
        with self.engine.begin() as conn:
            if conn.execute(sa.select(accounts.c.name).where(accounts.c.name == name)).first():
                raise AccountError(f"account {name!r} exists already")
            conn.execute(
                accounts.insert().values(
                    name=name,
                    role=role,
                    township=township,
                    unit=unit,
                    password_hash=None if password is None else hash_password(acceptable(password)),
                    created_at=self.now(),
                )
            )
            self._log(conn, by, "account_created", name)
        return Account(name, role, township, unit, False)

    def set_password(self, name: str, password: str, by: str = "admin") -> None:
        """A new password; the account's browser sessions end (its API tokens stay)."""
        with self.engine.begin() as conn:
            self._account_row(conn, name)
            conn.execute(
                accounts.update()
                .where(accounts.c.name == name)
                .values(password_hash=hash_password(acceptable(password)))
            )
            conn.execute(
                credentials.update()
                .where(
                    credentials.c.name == name,
                    credentials.c.kind == "session",
                    credentials.c.revoked_at.is_(None),
                )
                .values(revoked_at=self.now())
            )
            conn.execute(login_failures.delete().where(login_failures.c.name == name))
            self._log(conn, by, "password_set", name)

    def issue_token(self, name: str, days: float = 90, by: str = "admin") -> str:
        """A new API token for the account (shown once: only its hash is kept)."""
        with self.engine.begin() as conn:
            if self._account_row(conn, name).revoked_at is not None:
                raise AccountError(f"account {name!r} is revoked")
            token = self._insert_token(conn, name, "api", days * 86400)
            self._log(conn, by, "token_issued", name)
        return token

    def revoke(self, name: str, by: str = "admin") -> int:
        """Revoke the account and every credential it has; returns how many were live."""
        now = self.now()
        with self.engine.begin() as conn:
            self._account_row(conn, name)
            conn.execute(accounts.update().where(accounts.c.name == name).values(revoked_at=now))
            n = conn.execute(
                credentials.update()
                .where(credentials.c.name == name, credentials.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
            self._log(conn, by, "account_revoked", name)
        return n

    def login(self, name: str, password: str, client: str = "") -> str | None:
        """A session token for a right name and password of a live account; None otherwise,
        and None while the account is locked for ``client`` (LOCK_AFTER wrong passwords from it
        in LOCK_SECONDS).

        Every attempt is written down as a failure before its password is checked, in one
        transaction with the count of the failures written before it, one such transaction per
        account at a time (SQLite: the write lock its insert takes; PostgreSQL: the account
        row, locked): of many guesses sent at once, no more than LOCK_AFTER are ever checked.
        No transaction is open while a password is hashed, and every answer costs one hash."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(accounts).where(accounts.c.name == name)).first()
        if row is None or row.revoked_at is not None or row.password_hash is None:
            password_matches(password, _decoy())  # the same time either way
            return None
        client = client[:64]
        mine = (login_failures.c.name == name, login_failures.c.client == client)
        with self.engine.begin() as conn:
            attempt = conn.execute(
                login_failures.insert().values(name=name, client=client, at=self.now())
            ).inserted_primary_key[0]
            conn.execute(
                sa.select(accounts.c.name).where(accounts.c.name == name).with_for_update()
            )
            failed = conn.execute(
                sa.select(sa.func.count())
                .select_from(login_failures)
                .where(*mine, login_failures.c.at > self.now() - LOCK_SECONDS)
                .where(login_failures.c.id != attempt)
            ).scalar_one()
        if failed >= LOCK_AFTER:  # locked: this guess is not checked, nor kept
            password_matches(password, _decoy())  # the same time either way
            with self.engine.begin() as conn:
                conn.execute(login_failures.delete().where(login_failures.c.id == attempt))
            return None
        if password_matches(password, row.password_hash):
            with self.engine.begin() as conn:
                conn.execute(login_failures.delete().where(*mine))
                return self._insert_token(conn, name, "session", SESSION_SECONDS)
        if failed + 1 == LOCK_AFTER:  # this attempt stays, a failure, the last one allowed
            with self.engine.begin() as conn:
                self._log(conn, "web", "login_locked", name)
        return None

    def logout(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                credentials.update()
                .where(credentials.c.token_hash == token_hash(token))
                .values(revoked_at=self.now())
            )

    def who(self, token: str) -> tuple[Principal | None, str]:
        """The principal of a token, or None and why not (unknown, expired, revoked)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(credentials, accounts)
                .join(accounts, accounts.c.name == credentials.c.name)
                .where(credentials.c.token_hash == token_hash(token))
            ).first()
        if row is None:
            return None, "unknown credential"
        if row.revoked_at is not None or row._mapping[accounts.c.revoked_at] is not None:
            return None, "credential revoked"
        if row.expires_at <= self.now():
            return None, "credential expired"
        return Principal(row.name, row.role, row.township, row.unit), ""

    def list(self) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(accounts).order_by(accounts.c.name)).all()
        return [Account(r.name, r.role, r.township, r.unit, r.revoked_at is not None) for r in rows]

    def events(self, limit: int = 500) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(account_events).order_by(account_events.c.id.desc()).limit(limit)
            ).mappings()
            return [dict(r) for r in rows]

    def _account_row(self, conn: sa.Connection, name: str):  # type: ignore[no-untyped-def]
        row = conn.execute(sa.select(accounts).where(accounts.c.name == name)).first()
        if row is None:
            raise AccountError(f"no account {name!r}")
        return row

    def _insert_token(self, conn: sa.Connection, name: str, kind: str, seconds: float) -> str:
        token = secrets.token_urlsafe(32)
        now = self.now()
        conn.execute(
            credentials.insert().values(
                token_hash=token_hash(token),
                name=name,
                kind=kind,
                created_at=now,
                expires_at=now + seconds,
            )
        )
        return token

    def _log(self, conn: sa.Connection, by: str, action: str, name: str) -> None:
        conn.execute(account_events.insert().values(at=self.now(), by=by, action=action, name=name))
