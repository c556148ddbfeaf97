"""MP api_secrets the gateway issues: stateless, tamper-evident, revoked by rotating the API keyring."""

from __future__ import annotations

import pytest

from gateway.api.mp_ingest import issue_secret, verify_secret
from gateway.config.keys import Keyring

OLD = Keyring((("k1", "o" * 40),))
NEW = Keyring((("k2", "n" * 40), ("k1", "o" * 40)))


def test_an_issued_secret_names_its_sender_and_survives_rotation_until_the_old_key_goes() -> None:
    secret = issue_secret(OLD, "shop-backend")
    assert verify_secret(OLD, secret) == "shop-backend"
    assert verify_secret(NEW, secret) == "shop-backend"  # the old key still verifies during a rotation
    assert verify_secret(Keyring((("k2", "n" * 40),)), secret) is None  # retired key: revoked
    assert issue_secret(NEW, "shop-backend").split(".")[1] == "k2"


@pytest.mark.parametrize("mutate", [
    lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),
    lambda s: "other" + s[s.index("."):],
    lambda s: s.replace(".k1.", ".k9."),
    lambda s: "",
    lambda s: "a.b",
])  # fmt: skip
def test_a_tampered_secret_is_refused(mutate) -> None:  # type: ignore[no-untyped-def]
    assert verify_secret(OLD, mutate(issue_secret(OLD, "shop-backend"))) is None


def test_names_are_checked() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        issue_secret(OLD, "Shop Backend")
