"""Browsers get error pages in the site's layout; programs keep their JSON."""

from __future__ import annotations

import pytest

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


def assert_site_page(response, status_code: int, title: str) -> None:
    assert response.status_code == status_code
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in (
        html
    )
    assert '<link rel="stylesheet" href="/static/site.css">' in html
    assert 'class="site-header"' in html
    assert f"<h1>{title}</h1>" in html
    assert response.headers["cache-control"] == "no-store"


def test_an_unknown_address_is_a_page_not_found(site) -> None:
    with site.client() as client:
        response = client.get("/no/such/page", headers=HTML)
    assert_site_page(response, 404, "Page not found")


def test_a_wrong_method_is_a_page_that_keeps_the_allow_header(site) -> None:
    with site.client() as client:
        response = client.get("/logout", headers=HTML)
    assert_site_page(response, 405, "This page does not work that way")
    assert response.headers["allow"] == "POST"


def test_a_form_that_cannot_be_read_is_a_page(site) -> None:
    with site.client() as client:
        response = client.post(
            "/login",
            content=b"abc",
            headers={**HTML, "Content-Type": "multipart/form-data"},
        )
    assert_site_page(response, 400, "This request could not be read")


def test_a_refused_form_is_a_page_in_the_layout(site) -> None:
    with site.client() as client:
        response = client.post("/login", data={"email": "a@example.com"})
    assert_site_page(response, 403, "This form has expired")
    assert "reload the page and try again" in response.text


def test_a_client_asking_for_json_gets_json(site) -> None:
    with site.client() as client:
        missing = client.get("/no/such/page", headers=JSON)
        wrong_method = client.get("/logout", headers=JSON)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"detail": "Method Not Allowed"}


@pytest.mark.parametrize(
    "path",
    [
        "/protected/json/no/such/endpoint",
        "/onetouch/json/no/such/endpoint",
        "/authenticator/api/no/such/endpoint",
        "/authy/no/such/endpoint",
        "/static/no-such-file.js",
    ],
)
def test_api_routes_answer_json_even_to_a_browser(site, path) -> None:
    with site.client() as client:
        response = client.get(path, headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json(), dict)


def test_the_service_keeps_its_authy_error_bodies(site) -> None:
    with site.client() as client:
        response = client.get(
            "/protected/json/users/1/status",
            headers={**HTML, "X-Authy-API-Key": "not-a-key"},
        )
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False and body["error_code"]
