"""A real OpenID Connect provider for tests, served by authlib (Flask) on a loopback port.

It runs the authorization-code grant with PKCE (required) and OpenID Connect (nonce
required), signs ID tokens with its own RSA key published at its JWKS URI, and also answers
GitHub's user APIs (``/user``, ``/user/emails``) and Facebook's dialog, token and ``/me``
endpoints, so those presets' plain OAuth 2.0 paths run against it too. The person who "signs in" at /authorize is chosen with ``login_hint``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server


@dataclass
class Person:
    subject: str
    email: str
    name: str
    email_verified: bool = True
    login: str = ""


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == self.client_secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    person: Person
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class LocalOpenIDProvider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig"})
        self.people: dict[str, Person] = {}
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, Person] = {}
        self.token_requests: list[dict[str, str]] = []
        self.app = Flask("local-oidc")
        self._server = make_server("127.0.0.1", 0, self.app)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._routes()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LocalOpenIDProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def add_client(self, client_id: str, secret: str, redirect_uri: str) -> None:
        self.clients[client_id] = Client(client_id, secret, [redirect_uri])

    def add_person(self, hint: str, person: Person) -> None:
        self.people[hint] = person

    def _routes(self) -> None:
        provider = self
        app = self.app

        class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, req: Any) -> None:
                payload = req.payload
                provider.codes[code] = Code(
                    code=code,
                    client_id=req.client.client_id,
                    redirect_uri=payload.redirect_uri,
                    scope=req.scope,
                    person=req.user,
                    nonce=payload.data.get("nonce"),
                    code_challenge=payload.data.get("code_challenge"),
                    code_challenge_method=payload.data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                found = provider.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, code: Code) -> None:
                provider.codes.pop(code.code, None)

            def authenticate_user(self, code: Code) -> Person:
                return code.person

        class OpenID(OpenIDCode):  # type: ignore[misc]
            def exists_nonce(self, nonce: str, req: Any) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client: Any) -> Any:
                return provider.key

            def get_client_algorithm(self, client: Any) -> str:
                return "RS256"

            def get_client_claims(self, client: Any) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [client.client_id]}

            def get_encode_header(self, client: Any) -> dict[str, str]:
                return {"alg": "RS256", "kid": "test-key-1"}

            def generate_user_info(self, person: Person, scope: str) -> UserInfo:
                return UserInfo(
                    sub=person.subject,
                    email=person.email,
                    email_verified=person.email_verified,
                    name=person.name,
                )

        def save_token(token: dict[str, Any], req: Any) -> None:
            provider.tokens[token["access_token"]] = req.user

        server = AuthorizationServer(app, query_client=self.clients.get, save_token=save_token)
        server.register_grant(CodeGrant, [OpenID(require_nonce=True), CodeChallenge(required=True)])

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(
                issuer=provider.issuer,
                authorization_endpoint=f"{provider.issuer}/authorize",
                token_endpoint=f"{provider.issuer}/token",
                jwks_uri=f"{provider.issuer}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify(keys=[provider.key.as_dict(private=False)])

        @app.get("/authorize")
        @app.get("/login/oauth/authorize")
        @app.get("/v21.0/dialog/oauth")
        def authorize() -> Any:
            person = provider.people.get(request.args.get("login_hint", ""))
            grant = server.get_consent_grant(end_user=person)
            return server.create_authorization_response(grant_user=person, grant=grant)

        @app.post("/token")
        @app.post("/login/oauth/access_token")
        @app.post("/v21.0/oauth/access_token")
        def token() -> Any:
            provider.token_requests.append(dict(request.form))
            return server.create_token_response()

        def bearer() -> Person | None:
            header = request.headers.get("authorization", "")
            return provider.tokens.get(header.removeprefix("Bearer ").strip())

        @app.get("/user")
        def github_user() -> Any:
            person = bearer()
            if person is None:
                return jsonify(message="Bad credentials"), 401
            return jsonify(id=int(person.subject), login=person.login, name=person.name, email=None)

        @app.get("/v21.0/me")
        def facebook_me() -> Any:
            person = bearer()
            if person is None:
                return jsonify(error={"message": "Invalid OAuth access token"}), 401
            fields = request.args.get("fields", "id").split(",")
            data = {"id": person.subject, "name": person.name, "email": person.email}
            return jsonify({k: v for k, v in data.items() if k in fields})

        @app.get("/user/emails")
        def github_emails() -> Any:
            person = bearer()
            if person is None:
                return jsonify(message="Bad credentials"), 401
            return jsonify(
                [
                    {"email": "old@example.org", "primary": False, "verified": False},
                    {"email": person.email, "primary": True, "verified": person.email_verified},
                ]
            )
