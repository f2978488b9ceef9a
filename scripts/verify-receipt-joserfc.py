#!/usr/bin/env python3
"""Verifies a kakunin receipt (確認記録) with joserfc, a JOSE library other than the
service's own, following docs/receipt.md: usage RECEIPT.json JWKS.json. Prints the
payload (JSON) and exits 0, or names the failure and exits 1."""
import json
import sys
from datetime import datetime

from joserfc import jws
from joserfc.jwk import KeySet

receipt = json.load(open(sys.argv[1], encoding="utf-8"))
jwks = json.load(open(sys.argv[2], encoding="utf-8"))
# The validity window is kakunin's extra member; the library is given plain JWKs.
windows = {k["kid"]: (k.get("not_before"), k.get("not_after")) for k in jwks["keys"]}
plain = {"keys": [{m: k[m] for m in ("kty", "crv", "x", "kid", "use", "alg")} for k in jwks["keys"]]}
keys = KeySet.import_key_set(plain)
try:
    obj = jws.deserialize_json(receipt, keys, algorithms=["EdDSA"])
except Exception as e:  # joserfc raises its own error types; name it
    print(f"invalid: {type(e).__name__}: {e}")
    sys.exit(1)
headers = obj.headers()
if headers.get("typ") != "verification-receipt+json":
    print(f"invalid: typ {headers.get('typ')}")
    sys.exit(1)
payload = json.loads(obj.payload)
nb, na = windows[headers["kid"]]
at = datetime.fromisoformat(payload["checked_at"])
if at < datetime.fromisoformat(nb) or (na is not None and at > datetime.fromisoformat(na)):
    print("invalid: key not valid at checked_at")
    sys.exit(1)
print(json.dumps(payload, ensure_ascii=False))
