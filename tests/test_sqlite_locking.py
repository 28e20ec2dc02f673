"""Two writers at once on SQLite: the second waits for the first instead of failing.

A transaction that read and then wrote while another connection held the write lock got
"database is locked" at once, busy_timeout or not (SQLite refuses to wait where waiting
could deadlock): two Create-and-link presses at once, Refresh choices beside a cycle.
Ferry's transactions now take the write lock when they begin."""
import threading
import time

from app import open_database


def test_a_transaction_that_reads_then_writes_waits_for_another_writer(tmp_path):
    url = f"sqlite:///{tmp_path / 'ferry.db'}"
    first, second = open_database(url), open_database(url)
    first.execute_sql("CREATE TABLE t (n INTEGER)")
    first.close()
    holding, failures = threading.Event(), []

    def hold_the_write_lock():
        with first.connection_context(), first.atomic():
            first.execute_sql("INSERT INTO t VALUES (1)")
            holding.set()
            time.sleep(0.5)

    writer = threading.Thread(target=hold_the_write_lock)
    writer.start()
    holding.wait(5)
    try:
        with second.connection_context(), second.atomic():
            second.execute_sql("SELECT count(*) FROM t").fetchone()
            second.execute_sql("INSERT INTO t VALUES (2)")
    except Exception as exc:        # peewee's OperationalError: database is locked
        failures.append(str(exc))
    writer.join()
    assert failures == []
    with second.connection_context():
        assert second.execute_sql("SELECT count(*) FROM t").fetchone()[0] == 2
