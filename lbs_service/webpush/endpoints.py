"""Which push endpoints a subscription may name: https on a host of LBS_WEBPUSH_ALLOWED_HOSTS.

A push endpoint is a URL the user hands us and the server then POSTs to, so it is the classic door
for server-side request forgery: only the listed push services are ever reached. The URL is read
strictly - no userinfo (`https://allowed@10.0.0.1/` names 10.0.0.1 to most clients), no fragment,
no whitespace or backslashes that parsers disagree on - and its host must equal an entry (or be a
subdomain of a `*.` entry). An entry written with a scheme (`http://127.0.0.1:9999`) allows that
scheme for that host (and only that port, when it names one): how tests reach a local stand-in.

A plain entry (`fcm.googleapis.com`) admits https on the standard port only: push services listen
there, and no other port of theirs is ours to reach.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_ENDPOINT_LENGTH = 2048
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$|^[0-9a-f:.]+$")


DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class AllowedHost:
    """One entry of the allow-list."""

    schemes: frozenset[str]
    host: str  # lower case; "*.example.com" for subdomains of example.com
    port: int | None  # None: any port (an entry written with a scheme and no port)

    def admits(self, scheme: str, host: str, port: int) -> bool:
        if scheme not in self.schemes or (self.port is not None and port != self.port):
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:]) and len(host) > len(self.host) - 1
        return host == self.host


def _labels_ok(host: str) -> bool:
    """DNS rules a resolver enforces (and would fail on later, mid-send): 1-63 characters a label,
    253 in all; an IP address literal passes."""
    if ":" in host or host.replace(".", "").isdigit():
        return True
    labels = host.split(".")
    return len(host) <= 253 and all(0 < len(label) <= 63 for label in labels)


def parse_allowed_hosts(setting: str) -> tuple[AllowedHost, ...]:
    """LBS_WEBPUSH_ALLOWED_HOSTS: comma-separated `host`, `*.domain` or `scheme://host[:port]`."""
    allowed = []
    for raw in setting.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        schemes, port = frozenset({"https"}), DEFAULT_PORTS.get("https")
        if "://" in entry:
            parts = urlsplit(entry)
            if parts.scheme not in DEFAULT_PORTS or parts.path not in ("", "/") or parts.username:
                raise ValueError(f"LBS_WEBPUSH_ALLOWED_HOSTS: {raw.strip()!r} is not scheme://host[:port]")
            # The scheme is allowed as well as https, on the port named (any, when none is).
            schemes, entry, port = frozenset({"https", parts.scheme}), parts.hostname or "", parts.port
        if not _HOST.match(entry) or not _labels_ok(entry.removeprefix("*.")):
            raise ValueError(f"LBS_WEBPUSH_ALLOWED_HOSTS: {raw.strip()!r} is not a host name")
        allowed.append(AllowedHost(schemes, entry, port))
    return tuple(allowed)


def endpoint_refusal(endpoint: str, allowed: tuple[AllowedHost, ...]) -> str | None:
    """Why this endpoint may not be used (None: it may)."""
    if len(endpoint) > MAX_ENDPOINT_LENGTH:
        return f"a push endpoint is at most {MAX_ENDPOINT_LENGTH} characters"
    if any(c.isspace() or c == "\\" or ord(c) < 0x20 or ord(c) > 0x7E for c in endpoint):
        return "a push endpoint is a plain URL (no spaces, backslashes or non-ASCII characters)"
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return "a push endpoint is a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "a push endpoint is an https:// URL"
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        return "a push endpoint carries no user name or password"
    if parts.fragment or "#" in endpoint:
        return "a push endpoint has no fragment"
    host = parts.hostname.lower().rstrip(".")
    if not _labels_ok(host):
        return "a push endpoint names a valid host"
    port = port if port is not None else DEFAULT_PORTS[parts.scheme]
    if not any(entry.admits(parts.scheme, host, port) for entry in allowed):
        if parts.scheme != "https" and any(entry.admits("https", host, parts.port or DEFAULT_PORTS["https"])
                                           for entry in allowed):
            return "a push endpoint is an https:// URL"
        return f"{host} is not a push service this server sends to (LBS_WEBPUSH_ALLOWED_HOSTS)"
    return None
