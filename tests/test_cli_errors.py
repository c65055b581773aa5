"""What an operator sees for their own mistakes: one line naming the problem, never a
traceback, and nothing changed (no broker needed: these fail before any is reached)."""

from __future__ import annotations

import io

import pytest

from ews.cli import main as ews_main

NO_BROKER = "127.0.0.1:9"  # nothing listens on the discard port


def said(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_wrong_setting_is_named_in_one_line(monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("EWS_PARTITIONS", "four")
    assert ews_main(["settings"]) == 2
    assert said(capsys) == "ews settings: EWS_PARTITIONS='four' is not a valid int\n"


def test_a_setting_out_of_its_range_is_refused(monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("EWS_WEB_PORT", "99999")
    assert ews_main(["settings"]) == 2
    assert said(capsys) == "ews settings: EWS_WEB_PORT=99999 is out of range (1 to 65535)\n"
    monkeypatch.setenv("EWS_WEB_PORT", "8080")
    monkeypatch.setenv("EWS_PARTITIONS", "-3")
    assert ews_main(["settings"]) == 2
    assert "EWS_PARTITIONS=-3 is out of range" in said(capsys)


def test_a_broken_or_missing_routing_file_is_named_with_its_line(
    monkeypatch, tmp_path, capsys
) -> None:  # noqa: ANN001
    broken = tmp_path / "routing.yaml"
    broken.write_text("version: x\nlevels: [\n", encoding="utf-8")
    route = [
        "routes",
        "test",
        "--category",
        "unpaid_wages",
        "--township",
        "周庄镇",
        "--level",
        "red",
    ]
    monkeypatch.setenv("EWS_ROUTING", str(broken))
    assert ews_main(route) == 2
    assert said(capsys).startswith(f"ews routes: {broken}:3: not valid YAML")
    monkeypatch.setenv("EWS_ROUTING", str(tmp_path / "nowhere.yaml"))
    assert ews_main(route) == 2
    assert "nowhere.yaml" in said(capsys)
    monkeypatch.delenv("EWS_ROUTING")
    assert ews_main([*route[:3], "打架斗殴", *route[4:]]) == 2  # not a category intake takes
    assert "no category '打架斗殴'; one of unpaid_wages" in said(capsys)


def test_a_time_that_is_no_time_is_a_usage_error(capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as exited:
        ews_main(["clock", "tick", "--now", "tomorrow", "--bootstrap", NO_BROKER])
    assert exited.value.code == 2
    assert "argument --now: not an ISO 8601 time: 'tomorrow'" in said(capsys)


def test_a_name_longer_than_the_read_models_keep_is_a_usage_error(capsys) -> None:  # noqa: ANN001
    """The alerts read model keeps who acted in 64 characters (PostgreSQL refuses more, and
    the command's row with it); the web takes no more either."""
    acted = ["alert", "ack", "C1", "--unit", "hrss", "--bootstrap", NO_BROKER]
    with pytest.raises(SystemExit) as exited:
        ews_main([*acted, "--by", "张" * 65])
    assert exited.value.code == 2
    assert "argument --by: give 1 to 64 characters (65 given)" in said(capsys)


def test_a_database_without_read_models_says_what_to_run(tmp_path, capsys) -> None:  # noqa: ANN001
    """A command that only reads says there is nothing to read, and makes no file for it
    (in whatever folder it was started from)."""
    for command in (["counts"], ["risk"], ["dead-letters"], ["case", "C1"], ["alerts"]):
        assert ews_main([*command, "--db", f"sqlite:///{tmp_path / 'empty.db'}"]) == 2
        assert "run `ews project` (or `ews replay`)" in said(capsys)
        assert not (tmp_path / "empty.db").exists()
    replay = ["replay", "--db", f"sqlite:///{tmp_path / 'r.db'}", "--bootstrap", NO_BROKER]
    assert ews_main(replay) == 2
    assert "the read models are left as they were" in said(capsys)
    assert not (tmp_path / "r.db").exists()
    assert ews_main(["counts", "--db", "foo"]) == 2
    assert "not a database URL" in said(capsys)
    with pytest.raises(SystemExit):
        ews_main(["risk", "--limit", "0", "--db", f"sqlite:///{tmp_path / 'empty.db'}"])
    assert "not a whole number above zero: '0'" in said(capsys)
    assert ews_main(["alerts", "--unit", "nosuch", "--db", f"sqlite:///{tmp_path / 'a.db'}"]) == 2
    assert "no unit 'nosuch' in the routing" in said(capsys)  # not "0 open alerts"


def test_no_broker_at_the_address_is_said_at_once_or_after_the_broker_timeout(
    monkeypatch, capsys
) -> None:  # noqa: ANN001
    assert ews_main(["topics", "--bootstrap", NO_BROKER]) == 2
    # the socket check's words, not kafka-python's KafkaTimeoutError after its 30 s
    assert "no Kafka broker reachable at 127.0.0.1:9" in said(capsys)
    monkeypatch.setenv("EWS_BROKER_TIMEOUT", "2")
    assert ews_main(["worker", "--role", "intake", "--bootstrap", NO_BROKER]) == 69  # restart me
    assert "waited 2 s" in said(capsys)


def test_settings_never_show_the_kafka_password(monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("EWS_KAFKA_USER", "ews-worker")
    monkeypatch.setenv("EWS_KAFKA_PASSWORD", "s3cret-pw")
    assert ews_main(["settings"]) == 0
    out = capsys.readouterr().out
    assert "s3cret-pw" not in out and "EWS_KAFKA_PASSWORD=********" in out


def test_a_password_too_short_is_refused_and_the_old_one_kept(
    monkeypatch, tmp_path, capsys
) -> None:  # noqa: ANN001
    from readside.db import make_engine
    from web.accounts import AccountStore

    url = f"sqlite:///{tmp_path / 'accounts.db'}"
    monkeypatch.setenv("EWS_ACCOUNTS_DB", url)
    monkeypatch.setattr("sys.stdin", io.StringIO("long enough 1\n"))
    add = ["account", "add", "zhou", "--role", "county_desk", "--password-stdin"]
    assert ews_main(add) == 0
    for short in ("\n", "1234567\n"):  # an empty line, and seven characters
        monkeypatch.setattr("sys.stdin", io.StringIO(short))
        assert ews_main(["account", "password", "zhou"]) == 1
        assert "at least 8 characters" in said(capsys)
    unit = ["account", "add", "li", "--role", "unit_officer", "--unit", "hrs"]
    assert ews_main(unit) == 1  # misspelt: no alert would ever reach this account
    assert "no unit 'hrs' in the routing; one of" in said(capsys)
    store = AccountStore(make_engine(url))
    assert store.login("zhou", "") is None and store.login("zhou", "long enough 1") is not None
    with pytest.raises(SystemExit):
        ews_main(["account", "token", "zhou", "--days", "-5"])
    assert "not a number above zero: '-5'" in said(capsys)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["ack", "C1", "--unit", "nosuch"], "--unit: no unit 'nosuch' in the routing (one of hrss"),
        (["reassign", "C1", "--unit", "hrss", "--to-unit", "nowhere"], "reassign needs --to-unit"),
        (["feedback", "C1", "--unit", "hrss"], "feedback needs --text"),
    ],
)
def test_an_officer_s_command_that_cannot_be_carried_out_is_refused_before_it_is_sent(
    argv, says, capsys
) -> None:  # noqa: ANN001
    """Not "sent" with exit 0 while the alert's deadline runs on: no broker is asked."""
    assert ews_main(["alert", *argv, "--by", "张三", "--bootstrap", NO_BROKER]) == 2
    assert says in said(capsys)


def test_a_zero_interval_is_a_usage_error(capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as exited:
        ews_main(["clock", "run", "--interval", "0", "--bootstrap", NO_BROKER])
    assert exited.value.code == 2
    assert "not a number above zero: '0'" in said(capsys)


def test_a_file_that_cannot_be_posted_is_said_in_one_line_and_nothing_is_asked_of_kafka(
    tmp_path, capsys
) -> None:  # noqa: ANN001
    """A missing or empty file is refused at once (exit 1), with no wait for a broker and no
    "see ews counts" for rows that were never posted; a port that is no port is named."""
    empty = tmp_path / "empty.csv"
    empty.write_text("乡镇,编号\n", encoding="utf-8")
    argv = ["post", str(tmp_path / "missing.csv"), str(empty), "--bootstrap", NO_BROKER]
    assert ews_main(argv) == 1
    captured = capsys.readouterr()
    assert "missing.csv: 没有这个文件 (no such file)" in captured.err
    assert "empty.csv: 文件中没有记录 (no rows to post)" in captured.err
    assert "ews counts" not in captured.out and "Traceback" not in captured.err
    assert ews_main(["web", "--port", "-1"]) == 2
    assert "--port -1 is not a port" in said(capsys)


def test_a_missing_argument_shows_the_command_s_own_usage(capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as exited:
        ews_main(["case"])
    assert exited.value.code == 2
    err = said(capsys)
    assert err.startswith("usage: ews case ") and "give a case id or --ref" in err


def test_a_township_no_record_came_from_is_said_not_listed_as_all_clear(tmp_path, capsys) -> None:  # noqa: ANN001
    from readside.db import make_engine, migrate

    db = f"sqlite:///{tmp_path / 'ews.db'}"
    migrate(make_engine(db))
    for command in (["risk"], ["alerts"], ["dead-letters"]):
        assert ews_main([*command, "--township", "不存在镇", "--db", db]) == 0
        assert "no record has come from '不存在镇'; townships with records: none yet" in said(
            capsys
        )


def test_an_officer_s_command_with_no_broker_says_so_at_once(capsys) -> None:  # noqa: ANN001
    argv = ["alert", "ack", "C1", "--by", "张三", "--unit", "hrss", "--bootstrap", NO_BROKER]
    assert ews_main(argv) == 2
    assert "no Kafka broker reachable at 127.0.0.1:9" in said(capsys)
