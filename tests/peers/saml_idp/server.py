"""A SAML 2.0 identity provider (pysaml2) on a loopback port, for SSO tests.

It plays an institution's IdP: publishes its metadata, takes an AuthnRequest by
the HTTP-Redirect binding, "signs in" the person named by the `user` query
parameter, and answers with a signed Response and Assertion by HTTP-POST (the
auto-submit form a browser would post to the service provider's ACS).

    with SamlIdp(people={"pat": {...}}) as idp:
        ...configure the SP with idp.entity_id, idp.sso_url, idp.certificate...
        idp.trust_sp(sp_metadata_xml)

pysaml2 signs by running the `xmlsec1` program; callers skip when it is absent.
"""

import datetime
import shutil
import tempfile
import threading
from pathlib import Path
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

PASSWORD_AUTHN = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"


def self_signed_pair(directory: Path, common_name: str) -> tuple[Path, Path]:
    """A fresh RSA key and a self-signed certificate for it, as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = directory / "idp.key", directory / "idp.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # the test output stays clean
        pass


class SamlIdp:
    """One IdP with its own key. `people` maps a user name to its attributes by
    friendly name (mail, givenName, sn, uid, eduPersonAffiliation...), each a
    list; they go out under their URI names (urn:oid:...), as Shibboleth sends
    them. An impostor `impersonating` another IdP claims its entity id and SSO
    URL, but signs with its own key."""

    def __init__(
        self, *, people: dict[str, dict[str, list[str]]], impersonating: "SamlIdp | None" = None
    ):
        self.people = people
        self._directory = Path(tempfile.mkdtemp(prefix="saml-idp-"))
        self._http = make_server(
            "127.0.0.1", 0, self._wsgi, server_class=WSGIServer, handler_class=_QuietHandler
        )
        self.base_url = f"http://127.0.0.1:{self._http.server_port}"
        self.metadata_url = f"{self.base_url}/idp/metadata"
        self.entity_id = impersonating.entity_id if impersonating else self.metadata_url
        self.sso_url = f"{self.base_url}/idp/sso/redirect"
        # The SSO URL the IdP believes it has: the Destination it accepts requests for.
        self._claimed_sso_url = impersonating.sso_url if impersonating else self.sso_url
        self._key_file, self._cert_file = self_signed_pair(self._directory, "127.0.0.1")
        # The signing certificate as the SP's settings take it: base64 DER on one line.
        pem_lines = self._cert_file.read_text().splitlines()
        self.certificate = "".join(line for line in pem_lines if "CERTIFICATE" not in line)
        self._server: Server | None = None
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    # --- lifecycle ---
    def __enter__(self) -> "SamlIdp":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()
        shutil.rmtree(self._directory, ignore_errors=True)

    def trust_sp(self, sp_metadata: str) -> None:
        """Know the service provider (its entity id and ACS) from its metadata."""
        self._server = Server(config=self._config(sp_metadata))

    # --- pysaml2 ---
    def _config(self, sp_metadata: str = "") -> IdPConfig:
        config = {
            "entityid": self.entity_id,
            "xmlsec_binary": shutil.which("xmlsec1"),
            "key_file": str(self._key_file),
            "cert_file": str(self._cert_file),
            "metadata": {"inline": [sp_metadata]} if sp_metadata else {},
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(self._claimed_sso_url, BINDING_HTTP_REDIRECT)],
                    },
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 5},
                            "attribute_restrictions": None,
                            "name_form": NAME_FORMAT_URI,
                        }
                    },
                    "want_authn_requests_signed": False,
                }
            },
        }
        return IdPConfig().load(config)

    def _login_response(self, saml_request: str, relay_state: str, user: str) -> str:
        """The auto-submit HTML form carrying a signed Response for `user`."""
        request = self._server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        reply_to = self._server.response_args(request.message, [BINDING_HTTP_POST])
        response = self._server.create_authn_response(
            identity=self.people[user],
            userid=user,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=f"{user}-persistent-id"),
            authn={"class_ref": PASSWORD_AUTHN},
            sign_response=True,
            sign_assertion=True,
            # SHA-1 is pysaml2's default and deprecated; python3-saml refuses it.
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            in_response_to=reply_to["in_response_to"],
            destination=reply_to["destination"],
            sp_entity_id=reply_to["sp_entity_id"],
            name_id_policy=reply_to["name_id_policy"],
        )
        http_args = self._server.apply_binding(
            BINDING_HTTP_POST,
            str(response),
            destination=reply_to["destination"],
            relay_state=relay_state,
            response=True,
        )
        return http_args["data"]

    # --- HTTP ---
    def _wsgi(self, environ, start_response):
        path = environ["PATH_INFO"]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if path == "/idp/metadata":
            body, status, kind = str(entity_descriptor(self._config())), "200 OK", "text/xml"
        elif path == "/idp/sso/redirect":
            body, status, kind = self._sso(query)
        else:
            body, status, kind = "not found", "404 Not Found", "text/plain"
        start_response(status, [("Content-Type", f"{kind}; charset=utf-8")])
        return [body.encode()]

    def _sso(self, query: dict[str, str]) -> tuple[str, str, str]:
        if self._server is None:
            return "no service provider is trusted yet", "503 Service Unavailable", "text/plain"
        if "SAMLRequest" not in query:
            return "SAMLRequest missing", "400 Bad Request", "text/plain"
        if query.get("user") not in self.people:
            return "unknown user", "403 Forbidden", "text/plain"
        form = self._login_response(
            query["SAMLRequest"], query.get("RelayState", ""), query["user"]
        )
        return form, "200 OK", "text/html"
