#!/usr/bin/env python3
# tests/vsock_peer.py: the host's end of the vsock tests (tests/linux.sh),
# speaking Firecracker's UNIX-socket protocol to kite.
#   vsock_peer.py listen PATH OUT         accepts one connection on PATH,
#                                         saves what arrives in OUT, answers "ack\n"
#   vsock_peer.py connect PATH PORT IN OUT CONSOLE
#                                         once CONSOLE shows "vsockio: listening",
#                                         checks CONNECT PORT+1 is refused, then sends "CONNECT PORT\n", expects "OK <n>\n",
#                                         sends IN (then half-closes), saves what
#                                         arrives in OUT
# With the test stream of guest/tools/vsockio.c (described there):
#   vsock_peer.py to-guest PATH PORT CONSOLE N SEND EXPECT SEED [CLOSE_AFTER]
#                                         once CONSOLE shows "listening on PORT",
#                                         N connections to the guest's PORT at once
#   vsock_peer.py from-guest PATH_P N SEND EXPECT SEED [CLOSE_AFTER]
#                                         accepts N connections the guest makes
#                                         to host port P
# Connection i sends the stream of seed SEED+i, SEND bytes, then half-closes
# and checks that what it receives is one stream of EXPECT bytes. With
# CLOSE_AFTER it closes abruptly once it sent that many bytes (or, when SEND
# is 0, received them). One line per connection on stdout, key=value:
#   conn=I sent=BYTES sent_sha=H sent_mbs=R end=half-closed|closed|send-failed
#   got=BYTES got_sha=H seed=S got_mbs=R verdict=whole|not-the-stream|closed|...
import hashlib, socket, struct, sys, threading, time

TIMEOUT = 300
BLOCK = 4096


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


def wait_console(console, marker):
    deadline = time.time() + TIMEOUT
    while marker not in open(console, 'rb').read():
        if time.time() > deadline:
            sys.exit('the guest never printed %r' % marker)
        time.sleep(0.05)


def connect_port(path, port):
    """A connection to the guest's port through kite: CONNECT, then OK."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(TIMEOUT)
    s.connect(path)
    s.sendall(b'CONNECT %d\n' % int(port))
    line = b''
    while not line.endswith(b'\n'):
        b = s.recv(1)
        if not b:
            raise ConnectionError('kite closed the connection before OK')
        line += b
    if not line.startswith(b'OK ') or not line[3:-1].isdigit():
        raise ConnectionError('kite answered %r, want OK <port>' % line)
    return s


def connect(path, port, inp, out, console):
    wait_console(console, b'vsockio: listening')
    # Nothing listens on port + 1 in the guest: kite must close without OK.
    r = socket.socket(socket.AF_UNIX)
    r.settimeout(TIMEOUT)
    r.connect(path)
    r.sendall(b'CONNECT %d\n' % (int(port) + 1))
    if r.recv(64):
        sys.exit('CONNECT to a port nobody listens on was answered')
    r.close()
    try:
        s = connect_port(path, port)
    except ConnectionError as e:
        sys.exit(str(e))
    t = threading.Thread(target=recv_all, args=(s, out))
    t.start()
    with open(inp, 'rb') as f:
        s.sendall(f.read())
    s.shutdown(socket.SHUT_WR)
    t.join(TIMEOUT)


# ---- the test stream ----------------------------------------------------------

def block_template(seed):
    x = (seed * 2654435761 | 1) & 0xffffffff
    words = []
    for _ in range((BLOCK - 8) // 4):
        x ^= (x << 13) & 0xffffffff
        x ^= x >> 17
        x ^= (x << 5) & 0xffffffff
        words.append(x)
    return bytearray(struct.pack('<II', seed, 0) + struct.pack('<%dI' % len(words), *words))


class Stream:
    def __init__(self, seed, length):
        self.block, self.pos, self.len = block_template(seed), 0, length

    def next(self, n):
        out = bytearray()
        while len(out) < n and self.pos < self.len:
            off = self.pos % BLOCK
            take = min(BLOCK - off, n - len(out), self.len - self.pos)
            struct.pack_into('<I', self.block, 4, self.pos // BLOCK)
            out += self.block[off:off + take]
            self.pos += take
        return bytes(out)


class Check:
    """What arrives must be the stream its first 4 bytes name the seed of."""

    def __init__(self):
        self.head, self.want, self.got, self.bad = b'', None, 0, False
        self.sha, self.seed, self.error = hashlib.sha256(), None, None
        self.first = self.last = None

    def feed(self, data):
        self.last = time.time()
        self.first = self.first or self.last
        self.sha.update(data)
        self.got += len(data)
        if self.want is None:
            self.head += data
            if len(self.head) < 4:
                return
            self.seed = struct.unpack('<I', self.head[:4])[0]
            self.want, data = Stream(self.seed, 1 << 62), self.head
        if not self.bad and self.want.next(len(data)) != data:
            self.bad = True


def receive(s, check, limit):
    try:
        while True:
            b = s.recv(1 << 18)
            if not b:
                return
            check.feed(b)
            if limit and check.got >= limit:
                s.shutdown(socket.SHUT_RDWR)  # the end, in the middle of the stream
                return
    except OSError as e:
        check.error = e.errno


def mbs(n, start, end):
    return '%.1f' % (n / max(end - start, 1e-6) / 1e6) if start else '-'


def run_conn(s, i, send, expect, seed, close_after, report):
    check = Check()
    t = threading.Thread(target=receive, args=(s, check, 0 if send else close_after))
    t.start()
    start, sent, end, sha = time.time(), 0, 'half-closed', hashlib.sha256()
    gen = Stream(seed + i, send)
    limit = close_after if close_after and send else send
    try:
        while sent < limit:
            chunk = gen.next(min(1 << 18, limit - sent))
            s.sendall(chunk)
            sha.update(chunk)
            sent += len(chunk)
        if close_after and send:
            end = 'closed'
            s.shutdown(socket.SHUT_RDWR)  # wakes our reader; kite sees the end
        else:
            s.shutdown(socket.SHUT_WR)
    except OSError:
        end = 'send-failed'
    sent_secs = time.time()
    t.join(TIMEOUT)
    s.close()
    if close_after:
        verdict = 'closed'
    elif check.error:
        verdict = 'receive-failed-errno-%s' % check.error
    elif check.bad or check.got != expect:
        verdict = 'not-the-stream'
    else:
        verdict = 'whole'
    report[i] = ('conn=%d sent=%d sent_sha=%s sent_mbs=%s end=%s got=%d got_sha=%s seed=%s '
                 'got_mbs=%s verdict=%s' %
                 (i, sent, sha.hexdigest(), mbs(sent, start, sent_secs), end, check.got,
                  check.sha.hexdigest(), check.seed, mbs(check.got, check.first, check.last),
                  verdict))


def streams(socks, args):
    n, send, expect, seed = (int(a) for a in args[:4])
    close_after = int(args[4]) if len(args) > 4 else 0
    report = {}
    start = time.time()
    threads = [threading.Thread(target=run_conn,
                                args=(next(socks), i, send, expect, seed, close_after, report))
               for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    secs = time.time() - start
    for i in range(n):
        print(report.get(i, 'conn=%d verdict=no-result' % i))
    print('total: %.1f MB in %.2f s' % (n * (send + expect) / 1e6, secs))
    sys.stdout.flush()


def to_guest(path, port, console, *args):
    wait_console(console, b'vsockio: listening on %d' % int(port))

    def socks():
        while True:
            yield connect_port(path, port)
    streams(socks(), args)


def from_guest(path, *args):
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(64)
    srv.settimeout(TIMEOUT)

    def socks():
        while True:
            c, _ = srv.accept()
            c.settimeout(TIMEOUT)
            yield c
    streams(socks(), args)


if sys.argv[1] == 'listen':
    listen(sys.argv[2], sys.argv[3])
elif sys.argv[1] == 'connect':
    connect(*sys.argv[2:7])
elif sys.argv[1] == 'to-guest':
    to_guest(*sys.argv[2:])
elif sys.argv[1] == 'from-guest':
    from_guest(*sys.argv[2:])
else:
    sys.exit('usage: see tests/vsock_peer.py')
