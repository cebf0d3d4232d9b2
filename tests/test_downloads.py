"""Tests of resnet_lessons.downloads: the Keras cache, a reachability probe that cannot hang, socket timeouts."""

import socket
import time

from resnet_lessons import downloads


def test_cache_roots_follow_keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    assert downloads.keras_cache_roots() == [tmp_path / "home", downloads.pathlib.Path("/tmp/.keras")]
    assert downloads.keras_cache_roots(tmp_path) == [tmp_path]


def test_find_in_keras_cache(tmp_path):
    assert downloads.find_in_keras_cache("models", "weights.h5", cache_dir=tmp_path) is None
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "weights.h5").write_bytes(b"x")
    found = downloads.find_in_keras_cache("models", "weights.h5", cache_dir=tmp_path)
    assert found == tmp_path / "models" / "weights.h5"


def test_unreachable_host_is_reported_with_the_reason(monkeypatch):
    def refuse(address, timeout=None):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    reachable, reason = downloads.host_reachable("example.org", 443, 1.0)
    assert not reachable and "example.org:443" in reason and "Network is unreachable" in reason


def test_a_hanging_lookup_gives_up_after_the_timeout(monkeypatch):
    def hang(address, timeout=None):
        time.sleep(5)  # a DNS lookup that ignores the socket timeout, then fails
        raise OSError("too late")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.perf_counter()
    reachable, reason = downloads.host_reachable("example.org", 443, 0.2)
    assert time.perf_counter() - start < 2
    assert not reachable and "no answer" in reason


def test_socket_timeout_is_restored():
    previous = socket.getdefaulttimeout()
    with downloads.socket_timeout(12.5):
        assert socket.getdefaulttimeout() == 12.5
    assert socket.getdefaulttimeout() == previous
