"""Bearer tokens and who may do what (issue 10), against the real daemon.

- TokenChecks: HS256 and RS256 accepted; missing, forged, expired,
  not-yet-valid, wrong-audience, wrong-issuer, alg none tokens refused
  with 401 problem+json and WWW-Authenticate (RFC 6750); the probes need
  no token.
- PublicKeyOnly: a JWKS of an RSA and an EC key and no secret: an HS256
  token "signed" with the public key is refused (no HS/RS confusion),
  ES256 and kid selection work, and SIGHUP swaps the keys while requests
  keep being answered.
- Ownership: two replicas sharing PostgreSQL and Redis; a customer
  reading, listing, patching and deleting another customer's orders
  (through the hot cache and without it), staff and admin scopes.
- AuthOff: no key -> a warning at start and "auth":"off" in /readyz.
"""

import os
import shutil
import signal
import tempfile
import threading
import time
import unittest

import jwt_util as jwt
from cache_stack import CacheTestCase
from harness import Stack, StackTestCase, main, new_customer_id

SECRET = "test-secret-for-orderd-auth-0123456789"
AUD = "orderd-test"
ISS = "https://issuer.test"

KEYS_DIR = tempfile.mkdtemp(prefix="orderd-auth-keys.")
RSA_KEY, RSA_PUB = jwt.make_rsa_key(KEYS_DIR, "rsa")


def tearDownModule():
    shutil.rmtree(KEYS_DIR, ignore_errors=True)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def good_claims(sub, **extra):
    return jwt.claims(sub, **{"aud": AUD, "iss": ISS, **extra})


class AuthAsserts:
    def assert_unauthorized(self, resp, invalid=True):
        doc = self.assert_problem(resp, 401)
        challenge = resp.header("WWW-Authenticate") or ""
        self.assertTrue(challenge.startswith("Bearer "), resp)
        if invalid:
            self.assertIn('error="invalid_token"', challenge, resp)
        else:
            self.assertNotIn("error=", challenge, resp)  # RFC 6750 3.1: no credentials, no code
        return doc


class TokenChecks(AuthAsserts, StackTestCase):
    stack_env = {"ORDERD_JWT_SECRET": SECRET, "ORDERD_JWT_PUBLIC_KEY_FILE": RSA_PUB,
                 "ORDERD_JWT_AUDIENCE": AUD, "ORDERD_JWT_ISSUER": ISS, "ORDERD_JWT_LEEWAY_S": "5",
                 "ORDERD_RATE_LIMIT_AUTH_FAIL_PER_MIN": "0"}

    def setUp(self):
        super().setUp()
        self.customer = new_customer_id()
        self.token = jwt.hs256(SECRET, good_claims(self.customer))
        resp = self.c.post("/orders", json_body={"total": "4.00"}, headers=bearer(self.token))
        self.assertEqual(resp.status, 201, resp)
        self.order = resp.json()
        self.path = f"/orders/{self.order['id']}"

    def test_hs256_and_rs256_tokens_are_accepted(self):
        self.assertEqual(self.order["customer_id"], self.customer)  # omitted means its own
        for token in (self.token, jwt.rs256(RSA_KEY, good_claims(self.customer))):
            resp = self.c.get(self.path, headers=bearer(token))
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json()["id"], self.order["id"])

    def test_missing_token_is_401_without_an_error_code(self):
        self.assert_unauthorized(self.c.get(self.path), invalid=False)
        self.assert_unauthorized(self.c.get(self.path, headers={"Authorization": "Basic dTpw"}),
                                 invalid=False)

    def test_forged_token_is_refused(self):
        header, payload, sig = self.token.split(".")
        other = jwt.signing_input({"alg": "HS256", "typ": "JWT"},
                                  good_claims(self.customer + 1)).split(".")[1]
        for forged in (f"{header}.{other}.{sig}",                     # payload swapped
                       jwt.hs256("not-the-secret", good_claims(self.customer)),
                       f"{header}.{payload}.{sig[:-4]}AAAA",           # signature changed
                       "not.a.token", "", "a.b", self.token + ".x"):
            self.assert_unauthorized(self.c.get(self.path, headers=bearer(forged)))

    def test_expired_and_not_yet_valid_tokens_are_refused(self):
        now = int(time.time())
        expired = jwt.hs256(SECRET, good_claims(self.customer, exp=now - 60))
        doc = self.assert_unauthorized(self.c.get(self.path, headers=bearer(expired)))
        self.assertIn("expired", doc["detail"])
        early = jwt.hs256(SECRET, good_claims(self.customer, nbf=now + 60))
        doc = self.assert_unauthorized(self.c.get(self.path, headers=bearer(early)))
        self.assertIn("not valid yet", doc["detail"])
        no_exp = jwt.hs256(SECRET, {k: v for k, v in good_claims(self.customer).items() if k != "exp"})
        self.assert_unauthorized(self.c.get(self.path, headers=bearer(no_exp)))
        # within the 5 s leeway both are still good
        for claims in (good_claims(self.customer, exp=now - 2), good_claims(self.customer, nbf=now + 2)):
            resp = self.c.get(self.path, headers=bearer(jwt.hs256(SECRET, claims)))
            self.assertEqual(resp.status, 200, resp)

    def test_wrong_audience_or_issuer_is_refused(self):
        for claims in (good_claims(self.customer, aud="someone-else"),
                       jwt.claims(self.customer, iss=ISS),
                       good_claims(self.customer, iss="https://evil.test"),
                       jwt.claims(self.customer, aud=AUD)):
            self.assert_unauthorized(self.c.get(self.path, headers=bearer(jwt.hs256(SECRET, claims))))
        listed = jwt.hs256(SECRET, good_claims(self.customer, aud=["other", AUD]))
        self.assertEqual(self.c.get(self.path, headers=bearer(listed)).status, 200)

    def test_alg_none_and_unknown_algorithms_are_refused(self):
        claims = good_claims(self.customer)
        for token in (jwt.unsigned(claims), jwt.unsigned(claims, "None"),
                      jwt.unsigned(claims) + "c2ln",
                      jwt.hs256(SECRET, claims, header={"alg": "HS512", "typ": "JWT"}),
                      jwt.hs256(SECRET, claims, header={"typ": "JWT"})):
            self.assert_unauthorized(self.c.get(self.path, headers=bearer(token)))

    def test_probes_need_no_token(self):
        for path in ("/healthz", "/readyz", "/metrics"):
            self.assertEqual(self.c.get(path).status, 200, path)
        self.assertEqual(self.c.get("/readyz").json()["auth"], "on")

    def test_every_order_route_needs_a_token(self):
        for method, path in (("GET", "/orders"), ("POST", "/orders"), ("GET", self.path),
                             ("PATCH", self.path), ("DELETE", self.path)):
            resp = self.c.request(method, path, json_body={} if method in ("POST", "PATCH") else None)
            self.assert_unauthorized(resp, invalid=False)
        self.assertEqual(self.c.get(self.path, headers=bearer(self.token)).status, 200)


class PublicKeyOnly(AuthAsserts, StackTestCase):
    """No shared secret: only the JWKS keys, each bound to its algorithm."""

    jwks_path = os.path.join(KEYS_DIR, "keys.jwks")
    rsa2_key, rsa2_pub = jwt.make_rsa_key(KEYS_DIR, "rsa2")
    ec_key, ec_pub = jwt.make_ec_key(KEYS_DIR, "ec")
    jwt.write_jwks(jwks_path, [jwt.jwk_rsa(RSA_PUB, "r1"), jwt.jwk_ec(ec_pub, "e1")])
    stack_env = {"ORDERD_JWT_PUBLIC_KEY_FILE": jwks_path, "ORDERD_RATE_LIMIT_AUTH_FAIL_PER_MIN": "0"}

    def setUp(self):
        super().setUp()
        self.staff = jwt.rs256(RSA_KEY, jwt.claims("ops", scope="orders:staff"), kid="r1")
        resp = self.c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "1.00"},
                           headers=bearer(self.staff))
        self.assertEqual(resp.status, 201, resp)
        self.path = f"/orders/{resp.json()['id']}"

    def test_hs256_signed_with_the_public_key_is_refused(self):
        with open(RSA_PUB, "rb") as f:
            pem = f.read()
        claims = jwt.claims("ops", scope="orders:staff orders:admin")
        for secret in (pem, pem.strip(), jwt.jwk_rsa(RSA_PUB, "r1")["n"].encode()):
            token = jwt.hs256(secret, claims)
            self.assert_unauthorized(self.c.get(self.path, headers=bearer(token)))
            self.assert_unauthorized(self.c.delete(self.path, headers=bearer(token)))
        self.assertEqual(self.c.get(self.path, headers=bearer(self.staff)).status, 200)

    def test_es256_and_key_ids(self):
        claims = jwt.claims("ops", scope="orders:staff")
        self.assertEqual(self.c.get(self.path, headers=bearer(jwt.es256(self.ec_key, claims))).status, 200)
        self.assertEqual(self.c.get(self.path, headers=bearer(jwt.es256(self.ec_key, claims, kid="e1"))).status,
                         200)
        # a kid naming the other key, an EC key passing as RS256, a key we do not have
        for token in (jwt.rs256(RSA_KEY, claims, kid="e1"), jwt.es256(self.ec_key, claims, kid="r1"),
                      jwt.rs256(self.rsa2_key, claims)):
            self.assert_unauthorized(self.c.get(self.path, headers=bearer(token)))

    def test_sighup_swaps_the_keys_without_dropping_requests(self):
        old = self.staff
        new = jwt.rs256(self.rsa2_key, jwt.claims("ops", scope="orders:staff"), kid="r2")
        ec = jwt.es256(self.ec_key, jwt.claims("ops", scope="orders:staff"), kid="e1")
        self.assert_unauthorized(self.c.get(self.path, headers=bearer(new)))
        errors, answered = [], [0]
        stop = threading.Event()

        def hammer():
            # the EC key is in every version of the file: never refused
            c = self.stack.client()
            try:
                while not stop.is_set() and answered[0] < 5000:
                    resp = c.get(self.path, headers=bearer(ec))
                    answered[0] += 1
                    if resp.status != 200:
                        errors.append(resp)
            except Exception as e:  # noqa: BLE001 - a dropped connection is the failure
                errors.append(e)
            finally:
                c.close()

        t = threading.Thread(target=hammer)
        t.start()
        try:
            for i in range(6):
                keys = [jwt.jwk_rsa(self.rsa2_pub, "r2") if i % 2 == 0 else jwt.jwk_rsa(RSA_PUB, "r1"),
                        jwt.jwk_ec(self.ec_pub, "e1")]
                jwt.write_jwks(self.jwks_path, keys)
                self.stack.daemon.send_signal(signal.SIGHUP)
                self.assertIsNotNone(self.stack.daemon.wait_log(
                    lambda r, n=i + 1: r.get("msg") == "SIGHUP: JWT keys reloaded" and
                    sum(1 for x in self.stack.daemon.log_lines()
                        if isinstance(x, dict) and x.get("msg") == "SIGHUP: JWT keys reloaded") >= n))
        finally:
            stop.set()
            t.join(30)
        self.assertEqual(errors, [])
        self.assertGreater(answered[0], 0)
        # the last file has r1 again
        self.assertEqual(self.c.get(self.path, headers=bearer(old)).status, 200)
        self.assert_unauthorized(self.c.get(self.path, headers=bearer(new)))
        # a broken file keeps the keys that work
        with open(self.jwks_path, "w") as f:
            f.write("{ not json")
        self.stack.daemon.send_signal(signal.SIGHUP)
        self.assertIsNotNone(self.stack.daemon.wait_log(
            lambda r: r.get("msg", "").startswith("SIGHUP: JWT keys not reloaded")))
        self.assertEqual(self.c.get(self.path, headers=bearer(old)).status, 200)
        jwt.write_jwks(self.jwks_path, [jwt.jwk_rsa(RSA_PUB, "r1"), jwt.jwk_ec(self.ec_pub, "e1")])


class Ownership(AuthAsserts, CacheTestCase):
    """Two replicas, one PostgreSQL, one Redis: a's hot cache and b's both answer."""

    stack_env = {"ORDERD_JWT_SECRET": SECRET}

    assert_problem = StackTestCase.assert_problem

    def setUp(self):
        super().setUp()
        self.alice, self.bob = new_customer_id(), new_customer_id()
        self.t_alice = bearer(jwt.hs256(SECRET, jwt.claims(self.alice)))
        self.t_bob = bearer(jwt.hs256(SECRET, jwt.claims(self.bob)))
        self.t_staff = bearer(jwt.hs256(SECRET, jwt.claims("carol", scope="orders:staff")))
        self.t_admin = bearer(jwt.hs256(SECRET, jwt.claims("root", scope="orders:staff orders:admin")))
        resp = self.ca.post("/orders", json_body={"total": "9.00"}, headers=self.t_alice)
        self.assertEqual(resp.status, 201, resp)
        self.order = resp.json()
        self.path = f"/orders/{self.order['id']}"

    def test_a_customer_cannot_read_another_customers_order(self):
        missing = f"/orders/{self.order['id'] + 1000000}"
        for client in (self.ca, self.cb, self.ca, self.cb):  # the second round hits the hot caches
            self.assertEqual(client.get(self.path, headers=self.t_alice).status, 200)
            resp = client.get(self.path, headers=self.t_bob)
            doc = self.assert_problem(resp, 404)
            # the same answer as for an order that does not exist
            self.assertEqual(doc["detail"], f"order {self.order['id']} does not exist")
            self.assertIsNone(resp.header("ETag"))
            self.assertIsNone(resp.header("X-Cache"))
            self.assertEqual(client.get(missing, headers=self.t_bob).status, 404)
            self.assertEqual(client.get(self.path, headers={**self.t_bob, "If-None-Match": '"1"'}).status,
                             404)
        self.assertEqual(self.cb.get(self.path, headers=self.t_alice).header("X-Cache"), "HIT")

    def test_a_customer_lists_only_its_own_orders(self):
        self.assertEqual(self.cb.post("/orders", json_body={"total": "1.00"}, headers=self.t_bob).status, 201)
        for client in (self.ca, self.cb):
            mine = client.get("/orders", headers=self.t_bob).json()["data"]
            self.assertEqual({o["customer_id"] for o in mine}, {self.bob})
            self.assert_problem(client.get(f"/orders?customer_id={self.alice}", headers=self.t_bob), 403)
            own = client.get(f"/orders?customer_id={self.bob}", headers=self.t_bob)
            self.assertEqual(own.status, 200)
            everyone = client.get("/orders?limit=100", headers=self.t_staff).json()["data"]
            self.assertTrue({self.alice, self.bob} <= {o["customer_id"] for o in everyone})

    def test_a_customer_cannot_patch_or_delete_another_customers_order(self):
        for client in (self.ca, self.cb):
            self.assert_problem(client.patch(self.path, json_body={"status": "cancelled"}, headers=self.t_bob),
                                404)
            self.assert_problem(client.patch(self.path, json_body={"status": "paid"}, headers=self.t_bob), 403)
            self.assert_problem(client.delete(self.path, headers=self.t_bob), 403)
            self.assert_problem(client.delete(self.path, headers=self.t_alice), 403)  # customers never delete
        after = self.cb.get(self.path, headers={**self.t_alice, "Cache-Control": "no-cache"}).json()
        self.assertEqual((after["status"], after["version"]), ("pending", 1))

    def test_a_customer_creates_and_cancels_only_its_own(self):
        self.assert_problem(self.ca.post("/orders", json_body={"customer_id": self.alice, "total": "1.00"},
                                         headers=self.t_bob), 403)
        own = self.ca.post("/orders", json_body={"customer_id": self.bob, "total": "1.00"}, headers=self.t_bob)
        self.assertEqual(own.status, 201, own)
        self.assert_problem(self.ca.patch(self.path, json_body={"status": "paid"}, headers=self.t_alice), 403)
        resp = self.cb.patch(self.path, json_body={"status": "cancelled"}, headers=self.t_alice)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["status"], "cancelled")
        # the transition rules still apply: a cancelled order stays cancelled
        self.assert_problem(self.ca.patch(self.path, json_body={"status": "cancelled"}, headers=self.t_alice),
                            409)

    def test_staff_change_any_status_and_only_admin_deletes(self):
        resp = self.cb.patch(self.path, json_body={"status": "paid"}, headers=self.t_staff)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(self.ca.get(self.path, headers=self.t_staff).status, 200)
        self.assert_problem(self.ca.delete(self.path, headers=self.t_staff), 403)
        self.assert_problem(self.ca.post("/orders", json_body={"total": "1.00"}, headers=self.t_staff), 422,
                            ["customer_id"])  # staff name the customer
        self.assertEqual(self.ca.delete(self.path, headers=self.t_admin).status, 204)
        self.assertEqual(self.cb.get(self.path, headers=self.t_admin).status, 404)

    def test_a_valid_token_without_rights_gets_403(self):
        nobody = bearer(jwt.hs256(SECRET, jwt.claims("robot", scope="something:else")))
        self.assert_problem(self.ca.get(self.path, headers=nobody), 403)
        self.assert_problem(self.ca.get("/orders", headers=nobody), 403)
        self.assert_problem(self.ca.post("/orders", json_body={"total": "1.00"}, headers=nobody), 403)


class AuthOff(StackTestCase):
    def test_auth_off_warns_and_says_so(self):
        self.assertEqual(self.c.get("/readyz").json()["auth"], "off")
        self.assertIsNotNone(self.stack.daemon.wait_log(
            lambda r: r.get("level") == "warn" and r.get("msg", "").startswith("auth is off")))
        self.create_order()  # no token needed


if __name__ == "__main__":
    main()
