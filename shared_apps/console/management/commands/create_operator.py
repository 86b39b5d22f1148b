"""Make (or update) a member of the operator's staff, who signs in to /console/."""

import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from shared_apps.console.services import operator_ensure


class Command(BaseCommand):
    help = (
        "Create or update an operator staff account (public schema). The password comes "
        "from --password, else OPERATOR_PASSWORD, else a prompt. They set up their "
        "authenticator app at first sign-in."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")

    def handle(self, *args, **options):
        password = options["password"] or os.environ.get("OPERATOR_PASSWORD")
        if not password:
            password = getpass.getpass("Password: ")
        try:
            user = operator_ensure(
                email=options["email"],
                password=password,
                first_name=options["first_name"],
                last_name=options["last_name"],
            )
        except ValidationError as exc:
            lines = [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
            raise CommandError("Invalid operator:\n  " + "\n  ".join(lines)) from exc
        self.stdout.write(self.style.SUCCESS(f"Operator {user.email} can sign in to /console/."))
