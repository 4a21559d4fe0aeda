#!/usr/bin/env python3
"""A burst of HTTP exchanges on loopback, for `dpi classify -i lo`.

usage: live_burst.py PORT COUNT

Serves COUNT requests on 127.0.0.1:PORT and makes them one after the
other, each on its own connection (request, response, close), as fast as
the loopback allows: 20 packets an exchange. Start the capture first, for
example

    dpi classify -i lo --bpf "tcp port 18080" --format jsonl --stats-interval 0.5 > flows.jsonl &
    benches/live_burst.py 18080 200
    sleep 3; kill -INT %1

and compare the lines written with COUNT, and the kernel's drops on the
statistics lines with 0.
"""

import socket
import sys
import threading

REQUEST = b"GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def serve(listener, count):
    for _ in range(count):
        conn, _ = listener.accept()
        with conn:
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = conn.recv(1024)
                if not chunk:
                    break
                got += chunk
            conn.sendall(RESPONSE)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    port, count = int(sys.argv[1]), int(sys.argv[2])
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    server = threading.Thread(target=serve, args=(listener, count))
    server.start()
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(REQUEST)
            while c.recv(1024):
                pass
    server.join()
    listener.close()


if __name__ == "__main__":
    main()
