"""What the log may keep of an error text that came from elsewhere."""

from __future__ import annotations

from gateway.telemetry.redaction import described, redact

ROW = (
    'Code: 69. Cannot parse input: ["ev1","1732000000.000","1732000000.000","purchase","server","","","","",'
    '"","1.2","","","","[]","{}","","","https://shop.example/thanks?mail=ann.smith@example.com&x=1","1E+30"]'
)


def test_emails_tokens_and_secrets_are_replaced() -> None:
    text = redact(
        f"{ROW} url=https://h/mp/collect?measurement_id=G-1&api_secret=shop.k1.c2lnbmF0dXJl "
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln http://default:pw-123@db:8123/x ann%40ex.org"
    )
    for secret in ("ann.smith", "example.com", "c2lnbmF0dXJl", "eyJhbGciOiJIUzI1NiJ9", "pw-123", "ann%40ex.org"):
        assert secret not in text
    assert "Code: 69. Cannot parse input" in text  # the cause stays readable
    assert "<email>" in text


def test_an_exception_is_described_by_its_frames_and_redacted_message() -> None:
    try:
        raise ValueError("bad row for bob@example.org")
    except ValueError as exc:
        text = described(exc)
    assert text.startswith("ValueError: bad row for <email>")
    assert "test_redaction.py" in text
    assert len(redact("x" * 5000)) < 2100
