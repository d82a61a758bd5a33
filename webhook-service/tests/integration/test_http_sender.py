"""One POST to a real receiver: success, non-2xx, a redirect not followed, the deadline,
a refused connection, and the connection made to the checked address (not re-resolved)."""
from __future__ import annotations

from crm_testing.receiver import Behaviour
from webhook_service.adapters.http_sender import HttpSender
from webhook_service.domain.targets import Target, parse

HEADERS = {"Content-Type": "application/json"}


def test_a_2xx_is_success_and_anything_else_names_the_status(receiver):
    sender = HttpSender(timeout=3, pool_size=2)
    assert sender.post(parse(receiver.url("/ok")), b"{}", HEADERS).ok
    receiver.behaviour["/teapot"] = Behaviour(status=418)
    result = sender.post(parse(receiver.url("/teapot")), b"{}", HEADERS)
    assert (result.ok, result.status_code, result.error) == (False, 418, "HTTP 418")


def test_a_redirect_is_not_followed(receiver):
    receiver.behaviour["/moved"] = Behaviour(status=302, headers={"Location": receiver.url("/elsewhere")})
    result = HttpSender(timeout=3, pool_size=2).post(parse(receiver.url("/moved")), b"{}", HEADERS)
    assert not result.ok and result.status_code == 302 and "重定向" in result.error
    assert receiver.snapshot("/elsewhere") == []


def test_an_answer_later_than_the_deadline_is_a_timeout(receiver):
    receiver.behaviour["/slow"] = Behaviour(delay=2.0)
    result = HttpSender(timeout=0.5, pool_size=2).post(parse(receiver.url("/slow")), b"{}", HEADERS)
    assert not result.ok and result.status_code is None and "超时" in result.error
    assert 0.4 < result.duration < 1.5


def test_a_refused_connection_is_reported_as_such(receiver):
    receiver.stop()
    result = HttpSender(timeout=3, pool_size=2).post(parse(receiver.url("/gone")), b"{}", HEADERS)
    assert not result.ok and result.status_code is None and "无法连接" in result.error


def test_the_connection_goes_to_the_checked_address_with_the_hosts_name(receiver):
    # hooks.example.invalid does not resolve: only the checked address can have been used
    target = Target(url=f"http://hooks.example.invalid:{receiver.port}/pinned", scheme="http",
                    host="hooks.example.invalid", port=receiver.port, path="/pinned?x=1", connect_to="127.0.0.1")
    assert HttpSender(timeout=3, pool_size=2).post(target, b'{"a": 1}', HEADERS).ok
    [call] = receiver.snapshot()
    assert call.path == "/pinned?x=1" and call.headers["host"] == f"hooks.example.invalid:{receiver.port}"
    assert call.body == b'{"a": 1}'
