"""PostgreSQL as the suite runs it: Django's backend, with two changes to how
the suite's own database is emptied and dropped. Everything else, the tests'
queries included, is the backend's.

- After each transactional test Django empties the database with one TRUNCATE
  of every table, which gives each of the ~30 tables new files: 100–160 ms
  here, after each of several hundred tests with sockets, live servers or
  threads. The few rows a test leaves are deleted in about 5 ms.
- At the end of the run a sockets' database thread may still hold a
  connection; a plain DROP DATABASE waits 5 s for it, then fails and leaves
  the database behind.
"""

from __future__ import annotations

from django.db.backends.postgresql import base
from django.db.backends.postgresql.creation import DatabaseCreation
from django.db.backends.postgresql.operations import DatabaseOperations


class Operations(DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or allow_cascade:
            return super().sql_flush(style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        # One transaction (Django's flush runs the list in one), and Django's
        # foreign keys are checked at its commit: the tables empty in any order.
        sql = ["SET CONSTRAINTS ALL DEFERRED;"]
        sql += [f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};" for table in tables]
        if reset_sequences:
            sql += self.sequence_reset_by_name_sql(style, self.connection.introspection.sequence_list())
        return sql


class Creation(DatabaseCreation):
    def _destroy_test_db(self, test_database_name, verbosity):
        self.connection.close_pool()
        with self._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE {self.connection.ops.quote_name(test_database_name)} WITH (FORCE)")


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = Operations
    creation_class = Creation
