"""Files from the internet, kept in the Keras cache, and never a hang when offline (chapters "Data" and 5).

The book downloads two kinds of things: CIFAR-10 (:mod:`resnet_lessons.cifar10`) and the ImageNet weights that
Keras publishes (:mod:`resnet_lessons.pretrained`). Both go where Keras itself keeps them, so the book and
``keras.datasets``/``keras.applications`` share one copy, and both must fail within seconds on a machine without
internet, so that a chapter can say "skipped, offline" instead of hanging. The three pieces they share are here:
where the Keras cache is, a reachability probe with a hard time limit, and a socket timeout for the download itself.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import socket
import threading


def keras_cache_roots(cache_dir=None) -> list[pathlib.Path]:
    """The folders that Keras uses as its cache root (the folder holding ``datasets/`` and ``models/``).

    Args:
        cache_dir: a root given explicitly (as ``keras.utils.get_file(cache_dir=...)`` takes it); when
            None, ``$KERAS_HOME`` if set, else ``~/.keras``, then ``/tmp/.keras`` where Keras falls back
            when the home folder is not writable.

    Returns:
        The candidate roots, most likely first.
    """
    if cache_dir is not None:
        return [pathlib.Path(cache_dir).expanduser()]
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return [pathlib.Path(keras_home).expanduser(), pathlib.Path("/tmp") / ".keras"]


def find_in_keras_cache(cache_subdir: str, file_name: str, cache_dir=None) -> pathlib.Path | None:
    """Return the path of ``<root>/<cache_subdir>/<file_name>`` in the first Keras cache root that has it, or None.

    Example: ``find_in_keras_cache("models", "resnet50_weights_tf_dim_ordering_tf_kernels.h5")``, where
    ``keras.applications.ResNet50(weights="imagenet")`` keeps its download.
    """
    for root in keras_cache_roots(cache_dir):
        candidate = root / cache_subdir / file_name
        if candidate.is_file():
            return candidate
    return None


def host_reachable(host: str, port: int, timeout: float) -> tuple[bool, str]:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds (DNS lookup included).

    The connection is tried in a daemon thread, because a DNS lookup ignores socket timeouts and can
    block for much longer on an offline machine.

    Returns:
        ``(reachable, reason)``: ``reason`` says why not when ``reachable`` is False.
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
    """Within the ``with`` block, a socket operation that stalls for ``seconds`` fails instead of hanging.

    ``keras.utils.get_file`` takes no timeout; this sets the process's default socket timeout around it and
    restores the previous value afterwards.
    """
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)
