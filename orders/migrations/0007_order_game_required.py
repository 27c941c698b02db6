from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0006_lol_orders")]

    operations = [
        migrations.AlterField(
            model_name="order",
            name="game",
            field=models.CharField(help_text="The game's slug in orders.games, e.g. lol or valorant.", max_length=16),
        ),
    ]
