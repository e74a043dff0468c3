"""Label Studio's REST API, as far as labellake uses it.

Auth takes either kind of Label Studio token:

- a personal access token (Label Studio 1.2x's default; a JWT refresh token): exchanged
  at POST /api/token/refresh for an access token, sent as ``Authorization: Bearer``,
  and exchanged again shortly before it expires (5 minutes) or when refused;
- a legacy token (40 hex digits, where the server still enables them): sent as
  ``Authorization: Token``.

Every failure is one ``LabellakeError`` line that names the server, the request and what
to do; a response body is never echoed beyond Label Studio's own one-line ``detail``.
The official SDK is not used: it brings nltk, OpenCV and a code generator for the dozen
calls made here.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

from labellake.errors import LabellakeError, NotFoundError

ACCESS_TOKEN_S = 240  # Label Studio's access tokens live 300 s; exchange again before
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
PAGE_SIZE = 100


class Unreachable(LabellakeError):
    """The server did not answer, or answered with a server error: worth asking again."""


def check_url(url: str | None, setting: str = "labelstudio_url") -> str:
    """The server's base URL without a trailing slash; LabellakeError naming the setting."""
    if not url:
        raise LabellakeError(
            f"{setting} is not set; set it to the Label Studio server's address, such as "
            "http://127.0.0.1:8080"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LabellakeError(
            f"{setting} '{url}' is not an http(s) URL; set it to the Label Studio server's "
            "address, such as http://127.0.0.1:8080"
        )
    return url.rstrip("/")


class LabelStudioClient:
    def __init__(
        self,
        url: str | None,
        token: str | None,
        *,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = check_url(url)
        if not token:
            raise LabellakeError(
                "labelstudio_token is not set; make a personal access token in Label Studio "
                "(Account & Settings > Personal Access Token) and set labelstudio_token"
            )
        self._token = token.strip()
        self._personal = bool(_JWT.fullmatch(self._token))
        self._access: str | None = None
        self._access_at = 0.0
        self.http = httpx.Client(base_url=self.url, timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self.http.close()

    # -- auth -----------------------------------------------------------------------

    def _auth(self, fresh: bool = False) -> dict[str, str]:
        if not self._personal:
            return {"Authorization": f"Token {self._token}"}
        if fresh or self._access is None or time.monotonic() - self._access_at > ACCESS_TOKEN_S:
            response = self._send("POST", "/api/token/refresh/", {}, json={"refresh": self._token})
            if response.status_code in (400, 401, 403):
                raise LabellakeError(
                    f"Label Studio at {self.url} refused labelstudio_token (POST "
                    f"/api/token/refresh/: {response.status_code}); make a new personal access "
                    "token in Label Studio (Account & Settings > Personal Access Token)"
                )
            self._raise_for(response, "POST", "/api/token/refresh/")
            self._access = _json(response, "POST /api/token/refresh/").get("access")
            if not self._access:
                raise LabellakeError(
                    f"Label Studio at {self.url} answered POST /api/token/refresh/ without an "
                    "access token; is labelstudio_url a Label Studio server?"
                )
            self._access_at = time.monotonic()
        return {"Authorization": f"Bearer {self._access}"}

    # -- requests ---------------------------------------------------------------------

    def _send(
        self, method: str, path: str, headers: dict[str, str], **kwargs: Any
    ) -> httpx.Response:
        try:
            return self.http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise Unreachable(
                f"Label Studio at {self.url} did not answer {method} {path} in time; check "
                "that the server is up and labelstudio_url is right"
            ) from None
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            if isinstance(exc, httpx.ConnectError):
                reason = "connection refused or host unknown"
            raise Unreachable(
                f"cannot reach Label Studio at {self.url} ({reason}); start the server or fix "
                "labelstudio_url"
            ) from None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._send(method, path, self._auth(), **kwargs)
        if response.status_code == 401 and self._personal:
            response = self._send(method, path, self._auth(fresh=True), **kwargs)
        self._raise_for(response, method, path)
        return response

    def _raise_for(self, response: httpx.Response, method: str, path: str) -> None:
        if response.is_success:
            return
        where = f"Label Studio at {self.url}: {method} {path}"
        if response.status_code in (401, 403):
            raise LabellakeError(
                f"{where} was refused ({response.status_code}); check labelstudio_token (a "
                "personal access token of a user of the project's organization)"
            )
        detail = _detail(response)
        if response.status_code == 404:
            raise NotFoundError(f"{where}: not found{detail}")
        failed = Unreachable if response.status_code >= 500 else LabellakeError
        raise failed(f"{where} failed ({response.status_code}){detail}")

    def get(self, path: str, **params: Any) -> Any:
        return _json(self.request("GET", path, params=params), f"GET {path}")

    def post(self, path: str, body: Any, **params: Any) -> Any:
        return _json(self.request("POST", path, json=body, params=params), f"POST {path}")

    def patch(self, path: str, body: Any) -> Any:
        return _json(self.request("PATCH", path, json=body), f"PATCH {path}")

    # -- what labellake asks ----------------------------------------------------------

    def check(self) -> dict[str, Any]:
        """The token's user; raises a one-line error for a bad URL, token or server."""
        version = self._send("GET", "/api/version", {})
        if version.status_code != 200 or "release" not in _safe_json(version):
            raise LabellakeError(
                f"{self.url} does not answer like a Label Studio server (GET /api/version: "
                f"{version.status_code}); fix labelstudio_url"
            )
        return self.get("/api/current-user/whoami")

    def version(self) -> str:
        return str(self.get("/api/version").get("release", ""))

    def project(self, project_id: int) -> dict[str, Any]:
        return self.get(f"/api/projects/{int(project_id)}")

    def projects(self) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            try:
                body = self.get("/api/projects/", page=page, page_size=PAGE_SIZE)
            except NotFoundError:  # past the last page
                return
            results = body.get("results", []) if isinstance(body, dict) else body
            yield from results
            if not isinstance(body, dict) or not body.get("next"):
                return
            page += 1

    def export(self, project_id: int, out: IO[bytes]) -> None:
        """Every task of the project with its annotations and predictions (Label Studio's
        JSON export), streamed into ``out``."""
        path = f"/api/projects/{int(project_id)}/export"
        params = {"exportType": "JSON", "download_all_tasks": "true"}
        try:
            with self.http.stream("GET", path, params=params, headers=self._auth()) as response:
                if not response.is_success:
                    response.read()
                    self._raise_for(response, "GET", path)
                for piece in response.iter_bytes():
                    out.write(piece)
        except httpx.HTTPError:
            self._send("GET", "/api/version", {})  # says why in one line
            raise Unreachable(
                f"Label Studio at {self.url}: GET {path} broke off; try again"
            ) from None

    def export_file(self, project_id: int, folder: str | None = None) -> IO[bytes]:
        """The export in a temporary file (deleted when closed), positioned at its start."""
        spool = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 - the caller closes it
        self.export(project_id, spool)
        spool.seek(0)
        return spool


def _safe_json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _json(response: httpx.Response, what: str) -> Any:
    if response.status_code == 204 or not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise LabellakeError(
            f"Label Studio answered {what} with something other than JSON "
            f"({response.headers.get('content-type', 'no content type')})"
        ) from None


def _detail(response: httpx.Response) -> str:
    """Label Studio's own one-line reason, cut short; never the body itself."""
    body = _safe_json(response)
    detail = body.get("detail")
    errors = body.get("validation_errors")
    if isinstance(errors, dict) and errors:
        field, messages = next(iter(errors.items()))
        message = messages[0] if isinstance(messages, list) and messages else messages
        detail = f"{field}: {message}"
    if not isinstance(detail, str) or not detail:
        return ""
    return ": " + json.dumps(detail[:200])[1:-1]
