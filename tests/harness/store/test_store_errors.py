"""A database that cannot be used is one line naming its URL (password masked) and the cause,
never a driver's traceback (issue 16, item 11)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from harness.errors import HarnessError
from harness.store import Store, ingest_paths

from .test_store import make_record, write


def error_of(url: str) -> str:
    with pytest.raises(HarnessError) as caught:
        Store(url)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_bad_url_names_the_valid_forms_and_hides_the_password() -> None:
    assert error_of("not a url").startswith(
        "database (unreadable database URL): not a database URL (")
    unknown = error_of("foo://user:s3cret@host/db")
    assert unknown.startswith("database foo://user:***@host/db: unknown backend (")
    assert "valid: sqlite:///PATH or postgresql+psycopg://" in unknown
    assert "s3cret" not in error_of("postgresql+psycopg://user:s3cret@host:port/db")


def test_a_corrupt_file_and_a_missing_folder(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"not sqlite" * 500)
    assert error_of(f"sqlite:///{corrupt}") == (f"database sqlite:///{corrupt}: file is not a "
                                                "database")
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert "Not a directory" in error_of(f"sqlite:///{blocked}/sub/h.db")


def test_a_read_only_database_fails_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    Store(f"sqlite:///{path}").dispose()
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    store = Store(read_only)  # at the current revision: opening it writes nothing
    with pytest.raises(HarnessError, match=r"^database sqlite:///file.*h\.db\?mode=ro&uri=true:"
                                           r" attempt to write a readonly database$"):
        ingest_paths(store, [write(tmp_path, make_record())])
    store.dispose()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a valid, empty database: it needs the schema written
    assert error_of(f"sqlite:///file:{empty}?mode=ro&uri=true").endswith(
        "attempt to write a readonly database")


@pytest.mark.postgres
def test_a_refused_postgres_login_hides_the_password(pg_admin_url: str) -> None:
    wrong = make_url(pg_admin_url).set(password="n0t-the-pa55word")
    message = error_of(wrong.render_as_string(hide_password=False))
    assert "n0t-the-pa55word" not in message and ":***@" in message
    assert "password authentication failed" in message
    closed = error_of(make_url(pg_admin_url).set(port=1).render_as_string(hide_password=False))
    assert "Connection refused" in closed or "connection failed" in closed


def test_a_password_on_the_command_line_is_warned_about(capsys) -> None:
    from harness.store.store import resolve_db_url

    url = "postgresql+psycopg://app:s3cret@127.0.0.1:1/db"
    assert resolve_db_url(url) == url
    err = capsys.readouterr().err
    assert "carries a password" in err and "s3cret" not in err and "HARNESS_DB_URL" in err
    resolve_db_url("sqlite:///x.db")
    assert capsys.readouterr().err == ""
