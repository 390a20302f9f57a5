"""A free port for the demo and the tests never names a service: nfcpy's udp driver reads its
port back through getnameinfo, and a named one (57000 is ``dircproxy``) made it fail."""

from __future__ import annotations

import socket

from kiosk_app.demo import free_port, names_a_service


def test_a_port_listed_in_etc_services_is_known_by_name() -> None:
    http = socket.getservbyname("http", "tcp")
    assert names_a_service(http) and socket.getnameinfo(("127.0.0.1", http), socket.NI_NUMERICHOST)[1] == "http"


def test_free_ports_name_no_service_and_read_back_as_numbers() -> None:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        for _ in range(50):
            port = free_port(kind)
            assert socket.getnameinfo(("127.0.0.1", port), socket.NI_NUMERICHOST)[1] == str(port)
