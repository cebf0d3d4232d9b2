"""Tests of resnet_lessons.downloads: the Keras cache, a probe that cannot hang, socket timeouts, the one fetch."""

import socket
import time

import pytest

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


def test_an_open_connection_is_reachable(monkeypatch):
    class FakeConnection:
        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            return False

    monkeypatch.setattr(socket, "create_connection", lambda address, timeout=None: FakeConnection())
    assert downloads.host_reachable("example.org", 443, 1.0) == (True, "")


def test_socket_timeout_is_restored():
    previous = socket.getdefaulttimeout()
    with downloads.socket_timeout(12.5):
        assert socket.getdefaulttimeout() == 12.5
    assert socket.getdefaulttimeout() == previous


def _reachable(host, port, timeout):
    return True, ""


def test_fetch_without_download_probes_nothing(tmp_path, monkeypatch):
    def no_probe(*args):
        raise AssertionError("nothing may be probed when download=False")

    monkeypatch.setattr(downloads, "host_reachable", no_probe)
    searched = r"the file is not in the Keras cache \(searched .*models\)"
    with pytest.raises(downloads.Unavailable, match=searched) as raised:
        downloads.fetch("https://example.org/file", what="the file", advice="copy it", cache_subdir="models",
                        cache_dir=tmp_path, download=False)
    assert raised.value.reason == "not in the Keras cache, and download=False"
    assert str(raised.value).endswith("download=False; copy it")


def test_fetch_offline_raises_the_error_it_is_given(tmp_path, monkeypatch):
    class FileUnavailable(downloads.Unavailable):
        pass

    monkeypatch.setattr(downloads, "host_reachable", lambda host, port, timeout: (False, "refused in this test"))
    with pytest.raises(FileUnavailable, match="cannot be downloaded: refused in this test") as error:
        downloads.fetch("https://example.org/file", what="the file", advice="copy it", cache_subdir="models",
                        cache_dir=tmp_path, error=FileUnavailable)
    assert error.value.reason == "not in the Keras cache and example.org is unreachable, so probably offline"
    assert isinstance(error.value, OSError)


def test_fetch_downloads_under_a_socket_timeout_and_wraps_failures(tmp_path, monkeypatch):
    import keras

    calls = []

    def fake_get_file(**arguments):
        assert socket.getdefaulttimeout() == downloads.DOWNLOAD_SOCKET_TIMEOUT_SECONDS
        calls.append(arguments)
        if len(calls) > 1:
            raise Exception("connection reset")
        return str(tmp_path / "models" / arguments["fname"])

    monkeypatch.setattr(downloads, "host_reachable", _reachable)
    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    previous = socket.getdefaulttimeout()
    path = downloads.fetch("https://example.org/file", what="the file", advice="copy it", cache_subdir="models",
                           cache_dir=tmp_path, fname="file.h5", file_hash="abc")
    assert path == tmp_path / "models" / "file.h5"
    assert calls == [dict(origin="https://example.org/file", cache_subdir="models", cache_dir=str(tmp_path),
                          fname="file.h5", file_hash="abc")]
    failed = r"downloading the file from .* failed \(connection reset\)"
    with pytest.raises(downloads.Unavailable, match=failed) as raised:
        downloads.fetch("https://example.org/file", what="the file", advice="copy it", cache_subdir="models",
                        fname="file.h5")
    assert raised.value.reason == "not in the Keras cache, and the download failed (connection reset)"
    assert socket.getdefaulttimeout() == previous


@pytest.mark.parametrize("timeout", [0, -1.0, "3", True])
def test_fetch_rejects_bad_timeouts(timeout):
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        downloads.fetch("https://example.org/file", what="the file", advice="", cache_subdir="models",
                        timeout=timeout)
