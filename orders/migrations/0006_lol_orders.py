"""Every order placed so far is a League of Legends division boost: say so.
Names, prices, ranks, points, timelines and payouts stay as they are.

Every booster could claim every order until now, so each keeps that for League
of Legends (up to Challenger); Valorant needs staff to approve them."""

from django.db import migrations

LOL = "lol"
LOL_TOP_TIER = "challenger"
BOOSTERS_GROUP = "boosters"


def forward(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    BoosterApproval = apps.get_model("orders", "BoosterApproval")
    User = apps.get_model("auth", "User")
    Order.objects.filter(game__isnull=True).update(game=LOL)
    for booster in User.objects.filter(groups__name=BOOSTERS_GROUP).distinct():
        BoosterApproval.objects.get_or_create(booster=booster, game=LOL, defaults={"max_tier": LOL_TOP_TIER})


class Migration(migrations.Migration):
    dependencies = [("orders", "0005_games"), ("auth", "0012_alter_user_first_name_max_length")]

    # Backwards there is nothing to undo: 0005 drops the column and the approvals.
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
