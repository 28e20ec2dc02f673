"""Migrations take an empty database to the head of models.py, on SQLite and PostgreSQL."""
import pytest

import migrations
import models
from app import open_database
from tests.conftest import DATABASES


def _all_models():
    found, todo = [], [models.BaseModel]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__ == "models":
                found.append(sub)
    return found


@pytest.fixture(params=DATABASES)
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        database = open_database(f"sqlite:///{tmp_path / 'empty.db'}")
    else:
        database = open_database(request.getfixturevalue("postgres_databases").create())
    with database.connection_context():
        yield database


def test_upgrade_from_empty_to_head_then_nothing_pending(empty_database):
    ran = migrations.upgrade(empty_database)
    assert ran == migrations.available() and ran[0] == "0001_initial"
    assert migrations.pending(empty_database) == []
    assert migrations.upgrade(empty_database) == []


def test_head_schema_has_every_model_column(empty_database):
    migrations.upgrade(empty_database)
    tables = set(empty_database.get_tables())
    for model in _all_models():
        table = model._meta.table_name
        assert table in tables, f"no migration creates {table}"
        columns = {c.name for c in empty_database.get_columns(table)}
        for field in model._meta.sorted_fields:
            assert field.column_name in columns, f"{table}.{field.column_name} missing"


def test_db_upgrade_command(app):
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and "up to date" in result.output
    status = app.test_cli_runner().invoke(args=["db", "status"])
    assert "applied  0001_initial" in status.output
