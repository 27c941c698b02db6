"""Full-text search over message bodies: a GIN index on PostgreSQL, an FTS5
table kept in step by triggers on SQLite. Each half runs only on its database."""

from django.db import migrations

POSTGRES = [
    # The very expression rooms.search queries, so the planner uses the index.
    "CREATE INDEX IF NOT EXISTS message_body_search ON rooms_message "
    "USING gin (to_tsvector('simple'::regconfig, COALESCE(body, '')))",
]
POSTGRES_REVERSE = ["DROP INDEX IF EXISTS message_body_search"]

SQLITE = [
    "CREATE VIRTUAL TABLE rooms_message_fts USING fts5("
    "body, content='rooms_message', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER rooms_message_fts_insert AFTER INSERT ON rooms_message BEGIN "
    "INSERT INTO rooms_message_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER rooms_message_fts_delete AFTER DELETE ON rooms_message BEGIN "
    "INSERT INTO rooms_message_fts(rooms_message_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER rooms_message_fts_update AFTER UPDATE OF body ON rooms_message BEGIN "
    "INSERT INTO rooms_message_fts(rooms_message_fts, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO rooms_message_fts(rowid, body) VALUES (new.id, new.body); END",
    "INSERT INTO rooms_message_fts(rooms_message_fts) VALUES ('rebuild')",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS rooms_message_fts_insert",
    "DROP TRIGGER IF EXISTS rooms_message_fts_delete",
    "DROP TRIGGER IF EXISTS rooms_message_fts_update",
    "DROP TABLE IF EXISTS rooms_message_fts",
]


def run(statements_by_vendor):
    def apply(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("rooms", "0005_message_actions_and_changes")]

    operations = [
        migrations.RunPython(
            run({"postgresql": POSTGRES, "sqlite": SQLITE}),
            run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE}),
        )
    ]
