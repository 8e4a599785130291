#!/usr/bin/env python3
# tests/net_peer.py: the host's end of the Linux network test (tests/linux.sh).
#   net_peer.py ADDR SEND_FILE RECV_FILE RECV_SIZE [PORT_BASE]
# Port PORT_BASE+1 (7001): sends SEND_FILE to the first client, then closes.
# Port PORT_BASE+2 (7002): reads RECV_SIZE bytes (or until EOF) from the first
# client into RECV_FILE.
# Gives up after 240 s without a client.
import socket
import sys
import threading

TIMEOUT = 240


def listener(addr, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(TIMEOUT)
    return s


def serve_send(s, path):
    c, _ = s.accept()
    with open(path, "rb") as f:
        c.sendall(f.read())
    c.close()


def serve_recv(s, path, size):
    c, _ = s.accept()
    c.settimeout(TIMEOUT)
    got = bytearray()
    while len(got) < size:
        d = c.recv(65536)
        if not d:
            break
        got += d
    with open(path, "wb") as f:
        f.write(got)
    c.close()


def main():
    addr, send_path, recv_path, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    base = int(sys.argv[5]) if len(sys.argv) > 5 else 7000
    # Both listen before the caller starts the guest.
    a, b = listener(addr, base + 1), listener(addr, base + 2)
    print("listening", flush=True)
    t = [threading.Thread(target=serve_send, args=(a, send_path)),
         threading.Thread(target=serve_recv, args=(b, recv_path, size))]
    for x in t:
        x.start()
    for x in t:
        x.join()


if __name__ == "__main__":
    main()
