"""Files from the internet, kept in the Keras cache, and never a hang when offline (chapters 0 and 5).

CIFAR-10 (:mod:`resnet_lessons.cifar10`) and the ImageNet weights (:mod:`resnet_lessons.pretrained`) go where Keras
keeps them, so the book and ``keras.datasets``/``keras.applications`` share one copy, and both must fail within
seconds without internet, so that a chapter can say "skipped, offline" instead of hanging. Their one download path is
here: the Keras cache's roots, a reachability probe with a hard time limit, :func:`fetch` (``keras.utils.get_file``
under a socket timeout), and :class:`Unavailable`, the one error for "not here and not downloadable now".
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import socket
import threading
import urllib.parse

from resnet_lessons import arguments

# A download may stall for this long on one socket operation before it is abandoned.
DOWNLOAD_SOCKET_TIMEOUT_SECONDS = 60.0


class Unavailable(OSError):
    """A file is not in the Keras cache and cannot be downloaded now (offline, unreachable, failed or damaged).

    An ``OSError``, as its causes are files and networks; each download has its subclass
    (``cifar10.CIFAR10Unavailable``, ``pretrained.WeightsUnavailable``). The message says why and what to do,
    ``reason`` (default: the message) says why in a few words, for one-line notices.
    """

    def __init__(self, message, *, reason=None):
        super().__init__(message)
        self.reason = message if reason is None else reason


def check_timeout(timeout):
    """Raise ValueError unless ``timeout`` is a positive number of seconds."""
    arguments.require(arguments.is_number(timeout) and timeout > 0, "timeout", timeout, "a positive number of seconds")


def keras_cache_roots(cache_dir=None) -> list[pathlib.Path]:
    """The candidate Keras cache roots (holding ``datasets/`` and ``models/``), most likely first.

    ``cache_dir`` if given (as ``keras.utils.get_file(cache_dir=...)`` takes it), else ``$KERAS_HOME`` or
    ``~/.keras``, then ``/tmp/.keras``, where Keras falls back when the home folder is not writable.
    """
    if cache_dir is not None:
        return [pathlib.Path(cache_dir).expanduser()]
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return [pathlib.Path(keras_home).expanduser(), pathlib.Path("/tmp") / ".keras"]


def find_in_keras_cache(cache_subdir: str, file_name: str, cache_dir=None) -> pathlib.Path | None:
    """The path ``<root>/<cache_subdir>/<file_name>`` in the first Keras cache root that has it, or None."""
    for root in keras_cache_roots(cache_dir):
        candidate = root / cache_subdir / file_name
        if candidate.is_file():
            return candidate
    return None


def host_reachable(host: str, port: int, timeout: float) -> tuple[bool, str]:
    """``(reachable, why not)``: whether a TCP connection to ``host:port`` opens within ``timeout`` seconds.

    Tried in a daemon thread, because the DNS lookup ignores socket timeouts and can block for far longer offline.
    """
    outcome = {}

    def try_to_connect():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome["reachable"] = True
        except OSError as error:
            outcome["error"] = error

    thread = threading.Thread(target=try_to_connect, name=f"reachability-{host}", daemon=True)
    thread.start()
    thread.join(timeout)
    if outcome.get("reachable"):
        return True, ""
    if "error" in outcome:
        return False, f"cannot connect to {host}:{port} ({outcome['error']})"
    return False, f"no answer from {host}:{port} within {timeout:g} s"


@contextlib.contextmanager
def socket_timeout(seconds: float):
    """Within the block, a socket operation stalled for ``seconds`` fails (``keras.utils.get_file`` has no timeout)."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def fetch(url: str, *, what: str, advice: str, cache_subdir: str, cache_dir=None, download: bool = True,
          timeout: float = 3.0, error: type[Unavailable] = Unavailable, **get_file_arguments) -> pathlib.Path:
    """Download ``url`` into the Keras cache with ``keras.utils.get_file``, or say within seconds why it cannot be.

    Call it once the cache has been searched: it probes the host first (``timeout`` seconds at most), so an offline
    machine never starts a download, and the download runs under a socket timeout, so a stalled one fails.

    ``what`` (``"CIFAR-10"``) and ``advice`` (what to do) are for messages; ``cache_subdir`` is the cache's folder
    (``"datasets"``, ``"models"``) under ``cache_dir`` (None: Keras' own); ``error``, the subclass of
    :class:`Unavailable` to raise; ``get_file_arguments`` go to ``keras.utils.get_file``, whose path is returned.
    """
    check_timeout(timeout)
    searched = ", ".join(str(root / cache_subdir) for root in keras_cache_roots(cache_dir))
    if not download:
        raise error(f"{what} is not in the Keras cache (searched {searched}) and download=False; {advice}",
                    reason="not in the Keras cache, and download=False")
    host = urllib.parse.urlsplit(url).hostname
    reachable, why = host_reachable(host, 443, timeout)
    if not reachable:
        message = f"{what} is not in the Keras cache (searched {searched}) and cannot be downloaded: {why} (offline?)"
        raise error(f"{message}; {advice}",
                    reason=f"not in the Keras cache and {host} is unreachable, so probably offline")
    # Imported here: searching the cache needs no Keras, and importing it takes seconds.
    import keras

    try:
        # a stalled connection then fails instead of hanging the chapter
        with socket_timeout(max(timeout, DOWNLOAD_SOCKET_TIMEOUT_SECONDS)):
            path = keras.utils.get_file(origin=url, cache_subdir=cache_subdir,
                                        cache_dir=None if cache_dir is None else os.fspath(cache_dir),
                                        **get_file_arguments)
    except Exception as caught:
        raise error(f"downloading {what} from {url} failed ({caught}); check the connection and try again",
                    reason=f"not in the Keras cache, and the download failed ({caught})") from caught
    return pathlib.Path(path)
