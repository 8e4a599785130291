#!/usr/bin/env python3
# tests/vsock_peer.py: the host's end of the vsock test (tests/linux.sh),
# speaking Firecracker's UNIX-socket protocol to kite.
#   vsock_peer.py listen PATH OUT         accepts one connection on PATH,
#                                         saves what arrives in OUT, answers "ack\n"
#   vsock_peer.py connect PATH PORT IN OUT CONSOLE
#                                         once CONSOLE shows "vsockio: listening",
#                                         checks CONNECT PORT+1 is refused, then sends "CONNECT PORT\n", expects "OK <n>\n",
#                                         sends IN (then half-closes), saves what
#                                         arrives in OUT
import socket, sys, threading, time

TIMEOUT = 300


def recv_all(s, out):
    with open(out, 'wb') as f:
        while True:
            b = s.recv(65536)
            if not b:
                return
            f.write(b)


def listen(path, out):
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(1)
    s.settimeout(TIMEOUT)
    c, _ = s.accept()
    c.settimeout(TIMEOUT)
    recv_all(c, out)
    c.sendall(b'ack\n')
    c.close()


def connect(path, port, inp, out, console):
    deadline = time.time() + TIMEOUT
    while b'vsockio: listening' not in open(console, 'rb').read():
        if time.time() > deadline:
            sys.exit('the guest never listened')
        time.sleep(0.2)
    # Nothing listens on port + 1 in the guest: kite must close without OK.
    r = socket.socket(socket.AF_UNIX)
    r.settimeout(TIMEOUT)
    r.connect(path)
    r.sendall(b'CONNECT %d\n' % (int(port) + 1))
    if r.recv(64):
        sys.exit('CONNECT to a port nobody listens on was answered')
    r.close()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(TIMEOUT)
    s.connect(path)
    s.sendall(b'CONNECT %d\n' % int(port))
    line = b''
    while not line.endswith(b'\n'):
        b = s.recv(1)
        if not b:
            sys.exit('kite closed the connection before OK')
        line += b
    if not line.startswith(b'OK ') or not line[3:-1].isdigit():
        sys.exit('kite answered %r, want OK <port>' % line)
    t = threading.Thread(target=recv_all, args=(s, out))
    t.start()
    with open(inp, 'rb') as f:
        s.sendall(f.read())
    s.shutdown(socket.SHUT_WR)
    t.join(TIMEOUT)


if sys.argv[1] == 'listen':
    listen(sys.argv[2], sys.argv[3])
else:
    connect(*sys.argv[2:7])
