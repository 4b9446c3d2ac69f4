"""Every test runs offline, with an empty dataset cache and a scratch working directory."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread: tiny nets gain nothing from threads, and on a shared machine OpenMP's
    waiting threads make each training step many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_OFFLINE", "1")
    # Threads as each test sets them, and no "machine is busy" line on a loaded test machine
    # (tests/train/test_speed.py checks that choice itself).
    monkeypatch.setenv("GANKIT_THREADS", "0")
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "gankit-data"))
    monkeypatch.chdir(tmp_path)


def ring_of_gaussians(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.02,
                      seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n points [n, 2] from `modes` Gaussians on a circle, and the centres [modes, 2]."""
    g = torch.Generator().manual_seed(seed)
    angles = torch.arange(modes) * (2 * math.pi / modes)
    centres = radius * torch.stack([angles.cos(), angles.sin()], 1)
    k = torch.randint(0, modes, (n,), generator=g)
    return centres[k] + std * torch.randn(n, 2, generator=g), centres


@pytest.fixture
def ring():
    return ring_of_gaussians


@dataclass
class Route:
    """What the server answers at one path: a body, and optionally a larger Content-Length it lies about."""

    body: bytes
    declared_length: int | None = None  # > len(body): send the body short, then hang up


@dataclass
class LoopbackServer:
    url: str
    routes: dict[str, Route]
    requests: list[str] = field(default_factory=list)

    def serve(self, path: str, body: bytes, declared_length: int | None = None) -> None:
        """Answer GET `path` with `body` (cut short if `declared_length` exceeds its size)."""
        self.routes[path] = Route(body, declared_length)


@pytest.fixture
def http_server(monkeypatch):
    """A threaded HTTP server on 127.0.0.1 (port chosen by the OS) serving `routes`; 404 elsewhere.

    Proxies are cleared so urllib talks to it directly.
    """
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    state = LoopbackServer(url="", routes={})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            state.requests.append(self.path)
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(route.declared_length or len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)
            self.close_connection = True  # a short body + closed socket is a cut connection

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
