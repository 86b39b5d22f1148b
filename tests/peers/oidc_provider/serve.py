"""Start the test OpenID provider: migrate its database, load the seed (users
and client applications), and serve HTTP on 127.0.0.1.

    IDP_DATABASE_URL=postgres://... python -m tests.peers.oidc_provider.serve \
        --port 8765 --seed seed.json

The seed is JSON: {"users": [{"username", "email", "password", "first_name",
"last_name", "affiliation": [...]}], "clients": [{"client_id", "client_secret",
"redirect_uris": [...]}]}. Clients are confidential, authorization-code,
RS256-signed ID tokens, and skip the consent screen.
"""

import argparse
import json
import os
import socketserver
import sys


def _seed(data: dict) -> None:
    from django.contrib.auth.models import Group, User
    from oauth2_provider.models import Application

    for spec in data.get("users", []):
        user = User.objects.create_user(
            spec["username"],
            spec["email"],
            spec["password"],
            first_name=spec.get("first_name", ""),
            last_name=spec.get("last_name", ""),
        )
        for name in spec.get("affiliation", []):
            user.groups.add(Group.objects.get_or_create(name=name)[0])
    for spec in data.get("clients", []):
        Application.objects.create(
            name=spec.get("name", spec["client_id"]),
            client_id=spec["client_id"],
            client_secret=spec["client_secret"],  # stored hashed by the toolkit
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(spec["redirect_uris"]),
            skip_authorization=True,
            algorithm=Application.RS256_ALGORITHM,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", help="JSON file of users and client applications")
    args = parser.parse_args(argv)

    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.peers.oidc_provider.settings"
    # oauthlib refuses plain HTTP unless told that this is a test.
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    import django

    django.setup()

    from django.core.management import call_command
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
    from django.core.wsgi import get_wsgi_application

    call_command("migrate", verbosity=0, interactive=False)
    if args.seed:
        with open(args.seed) as f:
            _seed(json.load(f))

    class ThreadedServer(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    httpd = ThreadedServer(("127.0.0.1", args.port), WSGIRequestHandler)
    httpd.set_app(get_wsgi_application())
    print(f"listening on http://127.0.0.1:{args.port}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
