from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0048_benchmark_tokens"),
    ]

    operations: list = []
