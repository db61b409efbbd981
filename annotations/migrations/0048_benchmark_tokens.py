from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0047_webhooks"),
    ]

    operations: list = []
