import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rooms", "0007_readstate"),
    ]

    # Only Django's side changes (auto_now_add to a default the post sets): the
    # column stays as it is. Altering it would rebuild the table on SQLite and
    # drop the search index's triggers (0006).
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="created",
                    field=models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False),
                ),
            ],
        ),
    ]
