"""contract.py - every answer orderd gives, checked against api/openapi.json.

harness.Client and harness.RawConn pass each response they read to
check(), so every integration test also proves the document right: an
answer whose status, headers or body the document does not describe
fails the test that received it.  What is checked:

  status   listed for the operation (method and path template) or, for
           any request, 400, 413, 431 and 501 (x-orderd-any-request); a path the
           document lacks may only be 404, a method a path lacks only 405,
           and a 405's Allow must name exactly the documented methods
           (plus HEAD where GET is);
  headers  every required one present, every one present documented
           (apart from HTTP's own framing headers), each value valid
           against its schema;
  body     its media type listed, JSON bodies valid against the schema
           (JSON Schema 2020-12, which OpenAPI 3.1 uses; the schemas say
           additionalProperties: false, so an undocumented field fails),
           application/msgpack bodies decoded (python3-msgpack) and held
           to the same schema, and no body where the document lists no
           content.

A HEAD is checked against the path's GET, without a body.  Schemas are
validated with jsonschema: Debian's python3-jsonschema (scripts/deps),
found in Debian's dist-packages when the interpreter running the tests is
another one without the module.
"""

import copy
import json
import os
import re
import sys
import threading
import urllib.parse

try:
    import jsonschema
except ImportError:  # another python3 first on PATH: use Debian's module
    sys.path.append("/usr/lib/python3/dist-packages")
    import jsonschema
try:
    import msgpack
except ImportError:  # likewise: Debian's python3-msgpack
    if "/usr/lib/python3/dist-packages" not in sys.path:
        sys.path.append("/usr/lib/python3/dist-packages")
    import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("ORDERD_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
DOCUMENT_PATH = os.path.join(SOURCE_DIR, "api", "openapi.json")

# HTTP's own headers, about the message rather than the resource; a proxy
# (nginx in test_stack) adds Server
FRAMING_HEADERS = {"content-length", "content-type", "date", "connection", "keep-alive", "transfer-encoding",
                   "server"}
# what any request may get, whatever its path and method (x-orderd-any-request)
ANY_REQUEST = ("400", "413", "431", "501")
# the router's order, which its Allow header follows
METHOD_ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
JSON_MEDIA_RE = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")


class ContractError(AssertionError):
    """An answer that api/openapi.json does not describe."""


def _resolve(node, root, seen=()):
    """node with every local $ref replaced by what it names (the document
    has no recursive schemas; a loop would be a mistake worth an error)."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/") or ref in seen:
                raise ValueError(f"api/openapi.json: cannot resolve {ref}")
            target = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            merged = dict(_resolve(target, root, seen + (ref,)))
            # siblings of $ref (3.1 allows them) add to what it names
            merged.update({k: _resolve(v, root, seen) for k, v in node.items() if k != "$ref"})
            return merged
        return {k: _resolve(v, root, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, root, seen) for v in node]
    return node


class Contract:
    def __init__(self, document):
        self.raw = document
        self.doc = _resolve(copy.deepcopy(document), document)
        self.paths = []  # (regex, template, path item)
        for template, item in self.doc["paths"].items():
            pattern = "".join("[^/]*" if part.startswith("{") else re.escape(part)
                              for part in re.split(r"(\{[^}]+\})", template))
            self.paths.append((re.compile("^" + pattern + "$"), template, item))
        self.any_request = self.doc["x-orderd-any-request"]["responses"]
        self._validators = {}
        self._lock = threading.Lock()

    # -- finding what was asked --

    def operation(self, method, path):
        """(template, operation or None, responses allowed) for a request."""
        anywhere = {k: v for k, v in self.any_request.items() if k in ANY_REQUEST}
        for regex, template, item in self.paths:
            if not regex.match(path):
                continue
            op = item.get(method.lower())
            if op is None and method == "HEAD":
                op = item.get("get")
            if op is None:
                return template, None, {**anywhere, "405": self.any_request["405"]}
            return template, op, {**anywhere, **op["responses"]}
        return None, None, {**anywhere, "404": self.any_request["404"]}

    def allowed_methods(self, template):
        item = self.doc["paths"][template]
        methods = {m.upper() for m in item if m.upper() in METHOD_ORDER}
        if "GET" in methods:
            methods.add("HEAD")
        return [m for m in METHOD_ORDER if m in methods]

    def validator(self, schema):
        key = json.dumps(schema, sort_keys=True)
        with self._lock:
            v = self._validators.get(key)
            if v is None:
                v = jsonschema.Draft202012Validator(schema)
                self._validators[key] = v
            return v

    def schema_errors(self, schema, value):
        return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
                for e in self.validator(schema).iter_errors(value)]

    # -- judging what was answered --

    def problems(self, method, target, status, headers, body):
        """What is wrong with an answer, as a list of sentences (empty: none).

        headers is a list of (name, value) pairs as received; body bytes.
        """
        path = urllib.parse.unquote(urllib.parse.urlsplit(target).path)
        template, op, responses = self.operation(method, path)
        where = f"{op['operationId']}" if op else (f"{template} (no {method})" if template else "(unknown path)")
        response = responses.get(str(status))
        if response is None:
            return [f"{where}: status {status} is not documented (documented: {', '.join(sorted(responses))})"]
        out = self._header_problems(response, headers)
        if status == 405 and template:
            allow = [v for n, v in headers if n.lower() == "allow"]
            want = ", ".join(self.allowed_methods(template))
            if allow and allow[0] != want:
                out.append(f"Allow is {allow[0]!r}, the document's methods are {want!r}")
        out += self._body_problems(response, headers, body, head=method == "HEAD")
        return [f"{where} {status}: {p}" for p in out]

    def _header_problems(self, response, headers):
        out = []
        documented = {name.lower(): (name, spec) for name, spec in response.get("headers", {}).items()}
        present = {}
        for name, value in headers:
            present.setdefault(name.lower(), []).append(value)
        for lower, (name, spec) in documented.items():
            values = present.get(lower)
            if not values:
                if spec.get("required"):
                    out.append(f"required header {name} is missing")
                continue
            if len(values) > 1:
                out.append(f"header {name} is sent {len(values)} times")
            for e in self.schema_errors(spec.get("schema", {}), values[0]):
                out.append(f"header {name}: {values[0]!r}: {e}")
        for lower in present:
            if lower not in documented and lower not in FRAMING_HEADERS:
                out.append(f"header {lower} is not documented")
        return out

    def _body_problems(self, response, headers, body, head):
        content = response.get("content")
        ctype = next((v for n, v in headers if n.lower() == "content-type"), None)
        if not content:
            out = []
            if body:
                out.append(f"a body of {len(body)} bytes where none is documented")
            if ctype is not None:
                out.append(f"Content-Type {ctype!r} where no body is documented")
            return out
        # RFC 9110 8.3: a body without a type is application/octet-stream,
        # which only a range such as */* covers
        media = _media_key(content, ctype or "application/octet-stream")
        if media is None:
            return [f"Content-Type {ctype!r} is not documented (documented: {', '.join(content)})"]
        if head:
            return [f"a HEAD answer with a body of {len(body)} bytes"] if body else []
        schema = content[media].get("schema", {})
        essence = media.split(";")[0].strip()
        if JSON_MEDIA_RE.match(essence):
            try:
                value = json.loads(body)
            except ValueError as exc:
                return [f"the body is not JSON ({exc}): {body[:200]!r}"]
        elif essence == "application/msgpack":
            try:
                value = msgpack.unpackb(body, raw=False, strict_map_key=True)
            except (ValueError, msgpack.UnpackException) as exc:
                return [f"the body is not one MessagePack document ({exc}): {body[:200]!r}"]
        else:
            try:
                value = body.decode("utf-8")
            except UnicodeDecodeError:
                return ["the body is not UTF-8 text"]
        return [f"body {e}" for e in self.schema_errors(schema, value)]


def _normal_media(text):
    return ";".join(p.strip().lower() for p in text.split(";"))


def _media_key(content, ctype):
    """The content key that names ctype: equal media type and parameters
    (a key without parameters matches any), or a range (text/*, */*) that
    covers it; whitespace and case aside."""
    got = _normal_media(ctype)
    essence = got.split(";")[0]
    for key in content:
        want = _normal_media(key)
        if got == want or ("=" not in want and essence == want):
            return key
    for key in content:
        want = _normal_media(key)
        if want == "*/*" or (want.endswith("/*") and essence.startswith(want[:-1])):
            return key
    return None


_contract = None
_contract_lock = threading.Lock()


def contract():
    """The document of this source tree, loaded once per process."""
    global _contract
    with _contract_lock:
        if _contract is None:
            with open(DOCUMENT_PATH, encoding="utf-8") as f:
                _contract = Contract(json.load(f))
        return _contract


def check(method, target, status, headers, body):
    """Raises ContractError when api/openapi.json does not describe this answer."""
    found = contract().problems(method, target, status, headers, body)
    if found:
        raise ContractError(f"{method} {target} -> {status}: the answer breaks api/openapi.json:\n  "
                            + "\n  ".join(found) + f"\n  body: {body[:300]!r}")
