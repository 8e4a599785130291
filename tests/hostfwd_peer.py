#!/usr/bin/env python3
# tests/hostfwd_peer.py: the host's end of the user network's hostfwd test (tests/linux.sh).
#   hostfwd_peer.py CONSOLE MARKER PORT SIZE OUT_FILE
# Waits until the guest's console (the file CONSOLE) shows MARKER, then
# connects to 127.0.0.1:PORT (kite's forward into the guest) and reads SIZE
# bytes into OUT_FILE. A connection kite accepts before the guest listens is
# closed at once (the guest answers with a reset): it tries again. Gives up
# after 200 s; exit status 0 only with all SIZE bytes.
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


def main():
    console, marker, port, size, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    if not wait_marker(console, marker):
        sys.exit("the guest never printed " + marker)
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


main()
