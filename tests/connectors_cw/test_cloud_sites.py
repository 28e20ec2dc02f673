"""ConnectWise cloud sites as README tells people to type them (au.myconnectwise.net):
companyinfo is read on that login host, everything else on api-au.myconnectwise.net,
and the keys go only to the API host. The cloud hosts are played by an httpx2
MockTransport that records what each host receives."""
import base64

import httpx2
import pytest

from connectors.audit import ListSink
from connectors.connectwise import ConnectWise, CWSettings
from connectors.transport import RetryPolicy
from tests.conftest import csrf_token

PRIVATE_KEY = "typed-private-key-3c9e"
CLIENT_ID = "client-id-71d2"
INFO = {"Codebase": "v2025_1/", "CompanyName": "Ferry Demo", "VersionCode": "v2025.1"}


class CloudHosts:
    """The login and API hosts of one cloud region; every request kept as sent."""

    def __init__(self, region: str, codebase: str = "v2025_1/"):
        self.login = f"{region}.myconnectwise.net"
        self.api = f"api-{region}.myconnectwise.net"
        self.codebase = codebase
        self.requests: list[httpx2.Request] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        host, path = request.url.host, request.url.path
        if host == self.login and path == "/login/companyinfo/ferrydemo":
            return httpx2.Response(200, json={**INFO, "Codebase": self.codebase})
        if host == self.api and path.startswith(f"/{self.codebase}apis/3.0/"):
            expected = base64.b64encode(f"ferrydemo+pub:{PRIVATE_KEY}".encode()).decode()
            if request.headers.get("authorization") != "Basic " + expected:
                return httpx2.Response(401, json={"code": "Unauthorized", "message": "no"})
            return httpx2.Response(200, json=[{"id": 1, "name": "Acme"}])
        return httpx2.Response(404, json={"message": "not here"})

    def client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self.handler))

    def hosts(self) -> list[str]:
        return [r.url.host for r in self.requests]

    def carried_secrets(self, request: httpx2.Request) -> bool:
        text = str(request.url) + " ".join(f"{k}:{v}" for k, v in request.headers.items())
        return ("authorization" in request.headers or "clientid" in request.headers
                or PRIVATE_KEY in text or CLIENT_ID in text)


def connect(hosts: CloudHosts, site: str, **kw) -> ConnectWise:
    return ConnectWise(CWSettings(site, "ferrydemo", "pub", PRIVATE_KEY, CLIENT_ID),
                       sink=ListSink(), client=hosts.client(), sleep=lambda s: None,
                       retry=RetryPolicy(attempts=1), **kw)


@pytest.mark.parametrize("region", ["na", "eu", "au", "aus", "za"])
def test_test_connection_works_for_a_cloud_site(region):
    hosts = CloudHosts(region)
    result = connect(hosts, f"{region}.myconnectwise.net").test_connection()
    assert result.ok, [c.sentence for c in result.checks]
    assert result.checks[0].sentence.startswith(
        f"Found Ferry Demo at https://{region}.myconnectwise.net")
    first, *rest = hosts.requests
    assert first.url.host == hosts.login and first.url.scheme == "https"
    assert not hosts.carried_secrets(first)              # companyinfo: no keys, no client id
    assert rest and {r.url.host for r in rest} == {hosts.api}
    assert all(r.headers["clientid"] == CLIENT_ID and r.headers["authorization"]
               for r in rest)


def test_a_sync_discovers_the_codebase_on_the_login_host_then_reads_the_api():
    hosts = CloudHosts("au")
    cw = connect(hosts, "https://au.myconnectwise.net")
    assert [c["name"] for c in cw.companies()] == ["Acme"]
    assert hosts.hosts() == [hosts.login, hosts.api]
    assert str(hosts.requests[1].url).startswith(
        "https://api-au.myconnectwise.net/v2025_1/apis/3.0/company/companies")
    assert cw.known_codebase == "v2025_1/"


def test_after_an_upgrade_the_new_codebase_is_found_and_the_call_made_again():
    hosts = CloudHosts("eu", codebase="v2025_2/")
    cw = connect(hosts, "eu.myconnectwise.net", codebase="v2025_1/")   # cached before
    assert [c["id"] for c in cw.companies()] == [1]
    assert hosts.hosts() == [hosts.api, hosts.login, hosts.api]       # 404, look, again
    assert "/v2025_2/apis/3.0/" in hosts.requests[2].url.path
    assert not hosts.carried_secrets(hosts.requests[1])


def test_the_keys_never_go_to_the_login_host():
    # Only the credential-free companyinfo call may use the login host: an API call
    # aimed there (a Link header naming it, say) is refused before anything is sent.
    hosts = CloudHosts("na")
    cw = connect(hosts, "na.myconnectwise.net", codebase="v2025_1/")
    with pytest.raises(Exception, match="only sends its credentials to "
                                        "api-na.myconnectwise.net"):
        cw.call("GET", "https://na.myconnectwise.net/v2025_1/apis/3.0/company/companies")
    assert hosts.requests == []


def test_settings_test_connection_for_a_cloud_site(client, auth, monkeypatch):
    # The reviewer's steps: Settings → ConnectWise, site au.myconnectwise.net, Test.
    hosts = CloudHosts("au")
    real = httpx2.Client
    monkeypatch.setattr(httpx2, "Client", lambda **kw: real(
        transport=httpx2.MockTransport(hosts.handler), **kw))
    auth.login()
    page = client.post("/settings/connectwise/test", data={
        "csrf_token": csrf_token(client, "/settings/"), "site": "au.myconnectwise.net",
        "company_id": "ferrydemo", "public_key": "pub", "private_key": PRIVATE_KEY,
        "client_id": CLIENT_ID}, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Found Ferry Demo at https://au.myconnectwise.net" in page
    assert "Ferry can read expenses." in page and 'class="problem"' not in page
    assert set(hosts.hosts()) == {hosts.login, hosts.api}
    assert not any(hosts.carried_secrets(r) for r in hosts.requests
                   if r.url.host != hosts.api)
