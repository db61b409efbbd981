from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotations.services.taxonomy import (
    TaxonomyError,
    taxonomy_load,
    taxonomy_load_shipped,
    taxonomy_read_file,
)


class Command(BaseCommand):
    help = "Load a taxonomy JSON file (idempotent), or with --shipped every taxonomy the project ships."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", type=Path)
        parser.add_argument("--key", help="Machine name; default: the file's 'key' or its stem.")
        parser.add_argument("--default", action="store_true", help="Make it the default taxonomy.")
        parser.add_argument("--shipped", action="store_true", help="Load the shipped taxonomies.")

    def handle(self, *args, file=None, key=None, default=False, shipped=False, **options):
        if shipped == (file is not None):
            raise CommandError("give either a FILE or --shipped")
        try:
            if shipped:
                results = taxonomy_load_shipped()
            else:
                results = [taxonomy_load(taxonomy_read_file(file, key=key), make_default=default)]
        except TaxonomyError as error:
            raise CommandError(str(error)) from None
        for result in results:
            taxonomy = result.taxonomy
            groups = len(taxonomy.groups)
            self.stdout.write(
                f"{taxonomy.key} {taxonomy.version}: {result.outcome}, "
                f"{taxonomy.classes.count()} classes in {groups} groups"
                + (" (default)" if taxonomy.is_default else "")
            )
