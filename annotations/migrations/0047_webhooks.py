from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0046_credentials"),
    ]

    operations: list = []
