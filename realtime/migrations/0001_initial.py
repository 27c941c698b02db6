import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

OLD_TABLE = "config_tokenrevocation"


def adopt_old_table(apps, schema_editor):
    """Revocations were kept by the `config` app before it became wiring only:
    carry them over, so no token revoked before the move works again."""
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    new_table = apps.get_model("realtime", "TokenRevocation")._meta.db_table
    quote = schema_editor.quote_name
    schema_editor.execute(
        f"INSERT INTO {quote(new_table)} (user_id, revoked_at) SELECT user_id, revoked_at FROM {quote(OLD_TABLE)}"
    )
    schema_editor.execute(f"DROP TABLE {quote(OLD_TABLE)}")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="TokenRevocation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("revoked_at", models.DateTimeField()),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
        ),
        migrations.RunPython(adopt_old_table, migrations.RunPython.noop),
    ]
