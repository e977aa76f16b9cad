"""Where the Celery broker comes from (credit_dw.broker), with a real redis-server."""

from __future__ import annotations

import socket

import pytest

from credit_dw import broker


@pytest.fixture
def no_configured_broker(monkeypatch):
    for name in broker.CONFIG_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def redis_server():
    if broker.redis_server_binary() is None:
        pytest.skip("no redis-server binary on this machine (Debian: apt-get install redis-server)")


def test_private_server_starts_answers_and_is_gone_after(no_configured_broker, redis_server, tmp_path):
    with broker.celery_broker(tmp_path) as found:
        assert found is not None
        assert found.url.startswith("redis://127.0.0.1:")
        assert "private redis-server" in found.origin
        assert broker.answers(found.url)
        assert found.folder is not None and found.folder.is_relative_to(tmp_path)
        url, folder = found.url, found.folder
    assert not broker.answers(url, timeout_s=0.5)
    assert not folder.exists()


def test_configured_broker_wins_and_is_not_stopped(monkeypatch, redis_server, tmp_path):
    private = broker.start_private(tmp_path)
    try:
        monkeypatch.setenv("CELERY_BROKER_URL", private.url)
        with broker.celery_broker(tmp_path / "unused") as found:
            assert found.url == private.url
            assert found.process is None and "configured" in found.origin
        assert broker.answers(private.url)  # leaving the block did not stop the user's broker
        assert not (tmp_path / "unused").exists()
    finally:
        private.stop()


def test_configured_broker_that_does_not_answer_is_one_clear_error(monkeypatch, tmp_path):
    with socket.socket() as holder:  # a port nothing listens on
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://:s3cret@127.0.0.1:{port}/3")
    with pytest.raises(broker.BrokerError) as err:
        broker.find_broker(tmp_path)
    message = str(err.value)
    assert "does not answer" in message and "CELERY_BROKER_URL" in message
    assert "s3cret" not in message


def test_no_configured_broker_and_no_binary_is_none(no_configured_broker, monkeypatch, tmp_path):
    monkeypatch.setenv("CREDIT_DW_REDIS_SERVER", str(tmp_path / "no-such-redis-server"))
    assert broker.find_broker(tmp_path) is None
