"""The Cloud Run Admin API stand-in answers services.get from its registry, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulators.cloudrun import LocalCloudRunApi, ServiceLookup

SERVICE_PATH = "/v1/projects/demo-piloto/locations/southamerica-east1/services/piloto-admin"


@pytest.fixture
def api() -> Iterator[LocalCloudRunApi]:
    with LocalCloudRunApi() as running:
        yield running


def test_a_registered_service_is_described_with_its_url(api: LocalCloudRunApi) -> None:
    api.register("piloto-admin", "http://127.0.0.1:8006/")

    answer = httpx.get(api.url + SERVICE_PATH, headers={"Authorization": "Bearer owner"})

    assert answer.status_code == 200
    service = answer.json()
    assert service["status"]["url"] == "http://127.0.0.1:8006"
    assert service["metadata"]["name"] == "piloto-admin"
    assert service["metadata"]["labels"] == {"cloud.googleapis.com/location": "southamerica-east1"}
    assert api.lookups() == [
        ServiceLookup("demo-piloto", "southamerica-east1", "piloto-admin", "http://127.0.0.1:8006")
    ]


def test_an_unknown_service_is_a_google_api_404(api: LocalCloudRunApi) -> None:
    answer = httpx.get(api.url + SERVICE_PATH)

    assert answer.status_code == 404
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == (404, "NOT_FOUND")
    assert "piloto-admin" in error["message"]


def test_the_registry_changes_while_serving(api: LocalCloudRunApi) -> None:
    api.register("piloto-admin", "http://127.0.0.1:8006")
    api.register("piloto-admin", "http://127.0.0.1:9006")
    assert httpx.get(api.url + SERVICE_PATH).json()["status"]["url"] == "http://127.0.0.1:9006"

    assert api.unregister("piloto-admin") is True
    assert api.unregister("piloto-admin") is False
    assert httpx.get(api.url + SERVICE_PATH).status_code == 404
    assert api.services() == {}


def test_other_paths_and_methods_are_refused(api: LocalCloudRunApi) -> None:
    assert httpx.get(api.url + "/v2/projects/p/locations/l/services").status_code == 404
    answer = httpx.post(api.url + SERVICE_PATH, json={})
    assert (answer.status_code, answer.json()["error"]["status"]) == (405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize(
    ("service_id", "url"),
    [
        ("Piloto_Admin", "http://127.0.0.1:8006"),
        ("piloto-admin", "127.0.0.1:8006"),
        ("piloto-admin", "ftp://127.0.0.1:8006"),
        ("piloto-admin", "http://127.0.0.1:8006/api"),
    ],
)
def test_bad_registrations_are_refused(api: LocalCloudRunApi, service_id: str, url: str) -> None:
    with pytest.raises(ValueError):
        api.register(service_id, url)


def test_it_listens_on_loopback_and_stops_cleanly() -> None:
    api = LocalCloudRunApi().start()
    url = api.url
    assert url.startswith("http://127.0.0.1:")

    api.stop()
    api.stop()

    with pytest.raises(httpx.ConnectError):
        httpx.get(url + SERVICE_PATH)
