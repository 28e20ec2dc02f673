"""Secrets never reach an audit record: headers, JSON, forms, URLs, and text cut short."""
import base64
import logging

from connectors.audit import ListSink, redact_body, redact_headers, redact_url
from connectors.transport import Transport
from tests.connectors_cw.echo_server import EchoServer

SECRETS = ["s3cr3t-private", "AT-oauth-code-123", "RT-secret-value", "verifier-xyz",
           "client-secret-abc", "hunter2-password", "eyJidtoken"]


def test_headers_keep_the_scheme_and_hide_the_credential():
    basic = "Basic " + base64.b64encode(b"co+pub:s3cr3t-private").decode()
    out = redact_headers({"Authorization": basic, "clientId": "abc",
                          "X-Refresh-Token": "RT-secret-value", "Cookie": "session=1"})
    assert out == {"Authorization": "Basic ***", "clientId": "abc",
                   "X-Refresh-Token": "***", "Cookie": "***"}
    assert redact_headers([("authorization", "Bearer eyJidtoken")]) == {"authorization": "Bearer ***"}


def test_json_bodies_mask_secret_keys_at_any_depth_but_keep_error_codes():
    body = ('{"access_token": "AT-oauth-code-123", "nested": [{"privateKey": "s3cr3t-private",'
            ' "clientSecret": "client-secret-abc", "password": "hunter2-password"}],'
            ' "code": "NotFound", "id_token": "eyJidtoken", "total": 12.50}')
    out = redact_body(body, "application/json; charset=utf-8")
    assert not any(s in out for s in SECRETS)
    assert '"code": "NotFound"' in out and "12.50" in out


def test_oauth_code_in_json_token_request_is_masked():
    out = redact_body('{"grant_type": "authorization_code", "code": "AT-oauth-code-123"}',
                      "application/json")
    assert "AT-oauth-code-123" not in out and "authorization_code" in out


def test_form_bodies_and_urls():
    form = ("grant_type=authorization_code&code=AT-oauth-code-123&code_verifier=verifier-xyz"
            "&client_secret=client-secret-abc&redirect_uri=https%3A%2F%2Fferry%2Fcb")
    out = redact_body(form, "application/x-www-form-urlencoded")
    assert not any(s in out for s in SECRETS) and "redirect_uri=" in out
    url = redact_url("https://user:hunter2-password@x.test/cb?code=AT-oauth-code-123&state=ok"
                     "&refresh_token=RT-secret-value")
    assert not any(s in url for s in SECRETS)
    assert url.startswith("https://***@x.test/cb?") and "state=ok" in url
    plain = "https://x.test/apis/3.0/finance/invoices?conditions=id%20in%20(1,2)&page=2"
    assert redact_url(plain) == plain


def test_large_bodies_are_masked_by_key_then_cut_with_length_and_hash():
    big = '{"rows": "' + "x" * 5000 + '", "refresh_token": "RT-secret-value"}'
    out = redact_body(big, "application/json", limit=1000)
    assert "RT-secret-value" not in out          # the secret sat beyond the cut: masked
    assert out.startswith('{"rows": "xxx')
    assert f"[truncated: 1,000 of {len(big):,} characters kept; sha256 " in out
    assert redact_body(big.replace("RT-secret", "RT-other"), "application/json",
                       limit=1000)[-66:] == out[-66:]   # hash of the masked body only
    plain = '{"Invoices": [' + ", ".join(['{"Total": 1.5}'] * 10) + ']}'
    assert redact_body(plain, "application/json") == plain    # no secret: kept as sent


def test_the_quick_secret_test_of_a_body_agrees_with_the_key_pattern():
    # _names_secret stands in for SECRET_KEY.search over whole bodies: it must never miss
    # what the IGNORECASE pattern finds, in ASCII or any other text.
    from connectors.audit import SECRET_KEY, _names_secret
    samples = ["PASSWORD", "x-Api-Key", "apikey", "PrivateKey", "private_key", "idToken",
               "Code_Verifier", "Assertion", "AUTHORIZATION", "paſsword", "private_\u212aey",
               "prıvate_key", "PRİVATEKEY", "AuthorİzatIon", "Résumé secret", "naïve",
               "privat_key", "api-key", "pass word", "tok en", "Straße", ""]
    for text in samples:
        wrapped = '{"Name": "' + text + '"}'
        assert _names_secret(wrapped) == bool(SECRET_KEY.search(wrapped)), text


def test_unparseable_bodies_are_masked_by_pattern():
    broken = '{"refresh_token": "RT-secret-value", "rows": "' + "x" * 5000
    assert "RT-secret-value" not in redact_body(broken, "application/json", limit=1000)
    text = "error: Bearer eyJidtoken rejected; password=hunter2-password"
    assert not any(s in redact_body(text, "text/plain") for s in SECRETS)


def test_a_token_exchange_leaves_no_secret_in_records_or_logs(caplog):
    server = EchoServer()
    try:
        sink = ListSink()
        transport = Transport("xero", server.url, sink=sink,
                              headers={"Authorization": "Bearer eyJidtoken"})
        with caplog.at_level(logging.DEBUG):
            transport.request("POST", "/token", data={
                "grant_type": "authorization_code", "code": "oauth-code-123",
                "code_verifier": "verifier-xyz", "client_secret": "client-secret-abc"})
            transport.request("GET", "/things?refresh_token=RT-secret-value")
    finally:
        server.stop()
    stored = repr(sink.records)
    assert "oauth-code-123" not in stored
    assert not any(s in stored for s in SECRETS), stored
    # Ferry's own log lines, and the HTTP library's; the sandbox server's are not Ferry's.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    assert "HTTP Request: GET" in ours
    assert not any(s in ours for s in SECRETS + ["oauth-code-123"]), ours
    assert sink.records[0].response_body is not None and "Bearer" in stored
