"""jwt_util.py - tokens and keys for the auth tests (stdlib + the openssl CLI).

HS256 is signed with hmac; RS256 and ES256 with `openssl dgst -sign`, and
the ES256 DER signature is turned into the JWS form (R || S, 32 bytes
each).  Keys are made with `openssl genpkey`; jwks() writes their public
halves as a JWKS document.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import time


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_json(doc) -> str:
    return b64url(json.dumps(doc, separators=(",", ":")).encode())


def claims(sub, ttl=600, **extra):
    now = int(time.time())
    doc = {"sub": str(sub), "iat": now, "exp": now + ttl}
    doc.update(extra)
    return {k: v for k, v in doc.items() if v is not None}


def signing_input(header, payload):
    return _b64url_json(header) + "." + _b64url_json(payload)


def hs256(secret, payload, header=None):
    header = header or {"alg": "HS256", "typ": "JWT"}
    si = signing_input(header, payload)
    key = secret if isinstance(secret, bytes) else secret.encode()
    return si + "." + b64url(hmac.new(key, si.encode(), hashlib.sha256).digest())


def _openssl_sign(key_path, data: bytes) -> bytes:
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path], input=data,
                          capture_output=True, check=True).stdout


def _der_to_raw(der: bytes) -> bytes:
    """ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } -> r || s."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        value = der[i + 2:i + 2 + n].lstrip(b"\x00")
        out += value.rjust(32, b"\x00")
        i += 2 + n
    return out


def rs256(key_path, payload, kid=None):
    header = {"alg": "RS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    si = signing_input(header, payload)
    return si + "." + b64url(_openssl_sign(key_path, si.encode()))


def es256(key_path, payload, kid=None):
    header = {"alg": "ES256", "typ": "JWT", **({"kid": kid} if kid else {})}
    si = signing_input(header, payload)
    return si + "." + b64url(_der_to_raw(_openssl_sign(key_path, si.encode())))


def unsigned(payload, alg="none"):
    """alg none: the empty signature RFC 7519 6.1 describes."""
    return signing_input({"alg": alg, "typ": "JWT"}, payload) + "."


def make_rsa_key(folder, name):
    """(private key path, public key PEM path)."""
    key = os.path.join(folder, name + ".key")
    pub = os.path.join(folder, name + ".pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    return key, pub


def make_ec_key(folder, name):
    key = os.path.join(folder, name + ".key")
    pub = os.path.join(folder, name + ".pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    return key, pub


def _hex_block(text, label):
    m = re.search(label + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
    return bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))


def jwk_rsa(pub_path, kid):
    text = subprocess.run(["openssl", "pkey", "-pubin", "-in", pub_path, "-text", "-noout"],
                          capture_output=True, text=True, check=True).stdout
    n = _hex_block(text, "Modulus").lstrip(b"\x00")
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64url(n),
            "e": b64url((65537).to_bytes(3, "big"))}


def jwk_ec(pub_path, kid):
    text = subprocess.run(["openssl", "pkey", "-pubin", "-in", pub_path, "-text", "-noout"],
                          capture_output=True, text=True, check=True).stdout
    point = _hex_block(text, "pub")
    assert point[0] == 4 and len(point) == 65
    return {"kty": "EC", "kid": kid, "crv": "P-256", "x": b64url(point[1:33]),
            "y": b64url(point[33:])}


def write_jwks(path, keys):
    with open(path + ".tmp", "w") as f:
        json.dump({"keys": keys}, f)
    os.replace(path + ".tmp", path)  # a reader never sees half a file
