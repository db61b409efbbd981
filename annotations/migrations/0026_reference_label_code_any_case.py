from django.db import migrations, models
from django.db.models.functions import Upper

from annotations.migrations._concurrent import AddIndexConcurrently, RemoveIndexConcurrently


class Migration(migrations.Migration):
    # The exam list matches a reference label's code in any case: its index moves from the code to
    # UPPER(code). Built CONCURRENTLY on PostgreSQL (3M labels at CODE-II size; imports go on meanwhile),
    # which must run outside a transaction.
    atomic = False

    dependencies = [
        ("annotations", "0025_release_pseudonym_key"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="referencelabel",
            index=models.Index(
                Upper("code"), models.F("code_system"), models.F("exam"), name="reference_label_code_upper_idx"
            ),
        ),
        RemoveIndexConcurrently(model_name="referencelabel", name="reference_label_code_idx"),
    ]
