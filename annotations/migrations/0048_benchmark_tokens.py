"""A token scoped to one benchmark (its id in scope_object_id), and a benchmark's "preparing" state while a
task writes its tracings. Benchmarks made before are open or closed already and stay valid."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0047_webhooks"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="apitoken", name="api_token_scope_known"),
        migrations.RemoveConstraint(model_name="apitoken", name="api_token_role_scopes_name_no_object"),
        migrations.RemoveConstraint(model_name="benchmark", name="benchmark_status_valid"),
        migrations.RemoveConstraint(model_name="benchmark", name="benchmark_closed_when"),
        migrations.AlterField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[
                    ("read_only", "Read only"),
                    ("reader", "Reader"),
                    ("coordinator", "Coordinator"),
                    ("benchmark", "One benchmark"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="benchmark",
            name="readers",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="[{reader, kind, n, public: figures, private: figures}] scored while preparing.",
            ),
        ),
        migrations.AlterField(
            model_name="benchmark",
            name="status",
            field=models.CharField(
                choices=[("preparing", "Preparing"), ("open", "Open"), ("closed", "Closed")],
                default="preparing",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="apitoken",
            constraint=models.CheckConstraint(
                condition=models.Q(scope__in=["read_only", "reader", "coordinator", "benchmark"]),
                name="api_token_scope_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="apitoken",
            constraint=models.CheckConstraint(
                condition=models.Q(scope="benchmark", scope_object_id__isnull=False)
                | (~models.Q(scope="benchmark") & models.Q(scope_object_id__isnull=True)),
                name="api_token_object_names_its_benchmark",
            ),
        ),
        migrations.AddConstraint(
            model_name="benchmark",
            constraint=models.CheckConstraint(
                condition=models.Q(status__in=["preparing", "open", "closed"]), name="benchmark_status_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="benchmark",
            constraint=models.CheckConstraint(
                condition=models.Q(status__in=["preparing", "open"], closed_at__isnull=True)
                | models.Q(status="closed", closed_at__isnull=False),
                name="benchmark_closed_when",
            ),
        ),
    ]
