"""More than one game: orders get a game, generic points (LP, RR), options and
no per-game choices on their ranks; boosters get approvals per game."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0004_order_updated_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Null until 0006 says which game the existing orders are.
        migrations.AddField(
            model_name="order",
            name="game",
            field=models.CharField(
                max_length=16, null=True, help_text="The game's slug in orders.games, e.g. lol or valorant."
            ),
        ),
        migrations.RenameField(model_name="order", old_name="current_lp", new_name="current_points"),
        migrations.RenameField(model_name="order", old_name="reached_lp", new_name="reached_points"),
        *(
            migrations.AlterField(model_name="order", name=name, field=models.CharField(max_length=16))
            for name in ("current_rank", "desired_rank", "reached_rank")
        ),
        *(
            migrations.AlterField(
                model_name="order", name=name, field=models.PositiveSmallIntegerField(blank=True, null=True)
            )
            for name in ("current_division", "desired_division", "reached_division")
        ),
        migrations.AddField(model_name="order", name="duo_queue", field=models.BooleanField(default=False)),
        migrations.AddField(model_name="order", name="appear_offline", field=models.BooleanField(default=False)),
        migrations.AddField(model_name="order", name="priority_start", field=models.BooleanField(default=False)),
        migrations.AddField(
            model_name="order",
            name="preferences",
            field=models.CharField(blank=True, default="", max_length=120),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="order",
            name="region",
            field=models.CharField(
                blank=True, default="", help_text="The game's server code; empty before regions.", max_length=16
            ),
            preserve_default=False,
        ),
        migrations.CreateModel(
            name="BoosterApproval",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("game", models.CharField(max_length=16)),
                (
                    "max_tier",
                    models.CharField(help_text="The highest desired rank they may take.", max_length=16),
                ),
                ("updated", models.DateTimeField(auto_now=True)),
                (
                    "approved_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "booster",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="boost_approvals",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["booster_id", "game"],
                "constraints": [models.UniqueConstraint(fields=("booster", "game"), name="approval_booster_game")],
            },
        ),
    ]
