"""Who may do what (domain.access), and the accounts an admin manages with `ews account`."""

from __future__ import annotations

import pytest

from domain.access import AccountInvalid, Principal, check_account
from ews.cli import main as ews_main

CLERK = Principal("zhou", "township_clerk", township="周庄镇")
OFFICER = Principal("hrss1", "unit_officer", unit="hrss")
DESK = Principal("desk", "county_desk")
ANALYST = Principal("ana", "analyst")


def test_a_township_clerk_posts_and_reads_only_its_own_township() -> None:
    assert CLERK.can_post_for("周庄镇") and not CLERK.can_post_for("城关镇")
    assert CLERK.can_read_case("周庄镇") and not CLERK.can_read_case("城关镇", ["hrss"])
    assert not CLERK.can_act_on_alert(["hrss", "township:周庄镇"])


def test_a_unit_officer_reads_and_acts_on_what_was_routed_to_its_unit() -> None:
    assert OFFICER.can_read_case("城关镇", ["hrss", "police"])
    assert not OFFICER.can_read_case("城关镇", ["police"])
    assert OFFICER.can_act_on_alert(["hrss"]) and not OFFICER.can_act_on_alert(["police"])
    assert OFFICER.acting_unit() == "hrss" and OFFICER.sees_alerts_of() == "hrss"
    assert not OFFICER.can_post_for("周庄镇")


def test_the_desk_sees_and_acts_on_everything_an_analyst_only_reads() -> None:
    assert DESK.can_act_on_alert(["police"]) and DESK.acting_unit() == "county_desk"
    assert DESK.sees_alerts_of() is None and DESK.can_read_audit
    assert ANALYST.can_read_case("城关镇") and not ANALYST.can_act_on_alert(["hrss"])
    assert ANALYST.can_manage_models and not DESK.can_manage_models


def test_only_the_desk_and_unit_officers_are_shown_alert_actions() -> None:
    admin = Principal("root", "admin")
    assert [p.acts_on_alerts for p in (CLERK, OFFICER, DESK, ANALYST, admin)] == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert not admin.can_act_on_alert(["hrss"])  # what the console hides, the API refuses


@pytest.mark.parametrize(
    ("role", "township", "unit", "said"),
    [
        ("mayor", None, None, "unknown role"),
        ("township_clerk", None, None, "needs --township"),
        ("unit_officer", None, None, "needs --unit"),
        ("county_desk", "周庄镇", None, "only a township clerk"),
        ("analyst", None, "hrss", "only a unit officer"),
    ],
)
def test_an_account_whose_scope_does_not_fit_its_role_is_refused(
    role, township, unit, said
) -> None:  # noqa: ANN001
    with pytest.raises(AccountInvalid, match=said):
        check_account(role, township, unit)


def test_ews_account_adds_issues_lists_and_revokes(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from readside.db import make_engine
    from web.accounts import AccountStore

    url = f"sqlite:///{tmp_path / 'accounts.db'}"
    monkeypatch.setenv("EWS_ACCOUNTS_DB", url)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("s3cret pass\n"))
    assert (
        ews_main(
            [
                "account",
                "add",
                "zhou",
                "--role",
                "township_clerk",
                "--township",
                "周庄镇",
                "--password-stdin",
            ]
        )
        == 0
    )
    assert ews_main(["account", "token", "zhou", "--days", "30"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    store = AccountStore(make_engine(url))
    assert store.who(token)[0] == CLERK
    assert store.login("zhou", "s3cret pass") is not None
    assert ews_main(["account", "add", "zhou", "--role", "analyst"]) == 1  # exists already
    assert ews_main(["account", "add", "x", "--role", "unit_officer"]) == 1  # no unit
    assert ews_main(["account", "revoke", "zhou"]) == 0
    assert store.who(token) == (None, "credential revoked")
    assert ews_main(["account", "list"]) == 0
    assert "revoked" in capsys.readouterr().out


@pytest.mark.timeout(120)
def test_guesses_sent_all_at_once_get_no_more_checks_than_one_at_a_time(
    db_url, monkeypatch
) -> None:  # noqa: ANN001
    """Twelve wrong passwords sent together from one address: at most LOCK_AFTER of them are
    checked at all, the rest are refused as locked, and so is the right one after them."""
    import threading
    import time

    import sqlalchemy as sa

    from readside.db import make_engine
    from web import accounts as accounts_module
    from web.accounts import LOCK_AFTER, AccountStore, accounts

    store = AccountStore(make_engine(db_url))
    store.add("desk", "county_desk", password="correct horse 9")
    checked: list[str] = []
    real = accounts_module.password_matches
    with store.engine.connect() as conn:
        desks = conn.execute(sa.select(accounts.c.password_hash)).scalar_one()

    def slow_check(password: str, stored: str | None) -> bool:
        if stored == desks:  # a guess checked against the account's password
            checked.append(password)
        time.sleep(0.2)  # every guess is in flight before any is decided
        return real(password, stored)

    monkeypatch.setattr(accounts_module, "password_matches", slow_check)
    start = threading.Barrier(12)
    results: list[str | None] = []

    def guess(n: int) -> None:
        start.wait()
        results.append(store.login("desk", f"wrong guess {n}", client="10.9.8.7"))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [None] * 12
    assert 0 < len(checked) <= LOCK_AFTER, checked
    assert store.login("desk", "correct horse 9", client="10.9.8.7") is None
    assert store.login("desk", "correct horse 9", client="10.1.1.1") is not None
