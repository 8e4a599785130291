#!/usr/bin/env python3
# tests/hostfwd_peer.py: the host's end of the user network's hostfwd test (tests/linux.sh).
#   hostfwd_peer.py tcp CONSOLE MARKER PORT SIZE OUT_FILE
#   hostfwd_peer.py udp CONSOLE MARKER PORT MESSAGE
# Both wait until the guest's console (the file CONSOLE) shows MARKER.
# tcp: connects to 127.0.0.1:PORT (kite's forward into the guest) and reads
# SIZE bytes into OUT_FILE. A connection kite accepts before the guest
# listens is closed at once (the guest answers with a reset): it tries
# again. Exit status 0 only with all SIZE bytes.
# udp: sends MESSAGE to 127.0.0.1:PORT every 0.2 s (a datagram that reaches
# the guest before its listener is lost) until the same bytes come back.
# Both give up after 200 s.
import socket
import sys
import time

DEADLINE = time.monotonic() + 200


def wait_marker(console, marker):
    while time.monotonic() < DEADLINE:
        try:
            with open(console, "rb") as f:
                if marker.encode() in f.read():
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def fetch(port, size):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        got = bytearray()
        while len(got) < size:
            d = c.recv(65536)
            if not d:
                break
            got += d
        return bytes(got)


def tcp(port, size, out):
    last = "no attempt"
    while time.monotonic() < DEADLINE:
        try:
            got = fetch(port, size)
            if len(got) == size:
                with open(out, "wb") as f:
                    f.write(got)
                return
            last = "%d of %d bytes" % (len(got), size)
        except OSError as e:
            last = str(e)
        time.sleep(0.2)
    sys.exit("no whole file through 127.0.0.1:%d: %s" % (port, last))


def udp(port, message):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    while time.monotonic() < DEADLINE:
        s.sendto(message.encode(), ("127.0.0.1", port))
        try:
            if s.recv(65536) == message.encode():
                return
        except OSError:
            pass
    sys.exit("no echo of %r through 127.0.0.1:%d" % (message, port))


def main():
    mode, console, marker, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if not wait_marker(console, marker):
        sys.exit("the guest never printed " + marker)
    if mode == "tcp":
        tcp(port, int(sys.argv[5]), sys.argv[6])
    else:
        udp(port, sys.argv[5])


main()
