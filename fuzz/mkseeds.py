#!/usr/bin/env python3
# fuzz/mkseeds.py: writes the hand-made seeds of fuzz_net and fuzz_vsock
# (fuzz/seeds/<target>/), well-formed queues a driver would build, in the
# input layout their comments describe. Run from the repository's top.
import os
import struct

INPUT_GPA = 0x1000
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


def ring_bytes(num):
    return (16 * num + 6 + 2 * num + 15) & ~15


class Ram:
    """Guest RAM from INPUT_GPA: two queues' rings, then buffers."""

    def __init__(self, tx_num, rx_num):
        self.mem = bytearray()
        self.rings = {'tx': (INPUT_GPA, tx_num),
                      'rx': (INPUT_GPA + ring_bytes(tx_num), rx_num)}
        self.avail = {'tx': [], 'rx': []}
        self.free = {'tx': 0, 'rx': 0}
        self.next = INPUT_GPA + ring_bytes(tx_num) + ring_bytes(rx_num)

    def put(self, gpa, data):
        off = gpa - INPUT_GPA
        if len(self.mem) < off + len(data):
            self.mem.extend(bytes(off + len(data) - len(self.mem)))
        self.mem[off:off + len(data)] = data

    def buf(self, data):
        gpa = self.next
        self.put(gpa, data)
        self.next = (gpa + len(data) + 15) & ~15
        return gpa

    def desc(self, table, i, addr, length, flags, nxt):
        self.put(table + 16 * i, struct.pack('<QIHH', addr, length, flags, nxt))

    def chain(self, q, bufs):
        """bufs: (gpa, len, writable); a direct chain made available."""
        table, num = self.rings[q]
        head = self.free[q]
        for k, (gpa, length, w) in enumerate(bufs):
            i = (head + k) % num
            flags = (F_WRITE if w else 0) | (F_NEXT if k + 1 < len(bufs) else 0)
            self.desc(table, i, gpa, length, flags, (i + 1) % num)
        self.free[q] = (head + len(bufs)) % num
        self.avail[q].append(head)

    def indirect(self, q, bufs):
        tbl = self.buf(bytes(16 * len(bufs)))
        for k, (gpa, length, w) in enumerate(bufs):
            flags = (F_WRITE if w else 0) | (F_NEXT if k + 1 < len(bufs) else 0)
            self.desc(tbl, k, gpa, length, flags, k + 1)
        table, num = self.rings[q]
        head = self.free[q]
        self.desc(table, head, tbl, 16 * len(bufs), F_INDIRECT, 0)
        self.free[q] = (head + 1) % num
        self.avail[q].append(head)

    def image(self):
        for q, (table, num) in self.rings.items():
            ring = self.avail[q]
            avail = struct.pack('<HH', 0, len(ring)) + b''.join(
                struct.pack('<H', h) for h in ring)
            self.put(table + 16 * num, avail)
        return bytes(self.mem)


def write(target, name, data):
    d = os.path.join('fuzz', 'seeds', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


# ---- fuzz_net: byte 0 log2(num), 1 features, 2 frames, 3-10 frame lengths ----

NET_INDIRECT, NET_EVENT_IDX, NET_CSUM, NET_TSO4, NET_TSO6 = 1, 2, 4, 8, 16
NET_MRG_RXBUF, NET_MTU = 64, 128


def net_hdr(flags=0, gso=0, hdr_len=0, gso_size=0, start=0, off=0):
    return struct.pack('<BBHHHHH', flags, gso, hdr_len, gso_size, start, off, 0)


def net_seed(name, features, frames, build, log2num=3):
    ram = Ram(1 << log2num, 1 << log2num)
    build(ram)
    lens = b''.join(struct.pack('<H', n) for n in (frames + [0, 0, 0, 0])[:4])
    write('fuzz_net', name, bytes([log2num, features, len(frames)]) + lens + ram.image())


def net_plain(ram):
    ram.chain('tx', [(ram.buf(net_hdr()), 12, False), (ram.buf(bytes(range(60))), 60, False)])
    for _ in range(2):
        ram.chain('rx', [(ram.buf(bytes(1526)), 1526, True)])


def net_offload(ram):
    frame = bytes(3000)
    ram.chain('tx', [(ram.buf(net_hdr(1, 1, 54, 1448, 34, 16)), 12, False),
                     (ram.buf(frame), len(frame), False)])
    ram.chain('tx', [(ram.buf(net_hdr(1, 0, 0, 0, 34, 6) + bytes(80)), 92, False)])
    ram.chain('rx', [(ram.buf(bytes(12)), 12, True), (ram.buf(bytes(1514)), 1514, True)])


def net_indirect(ram):
    ram.indirect('tx', [(ram.buf(net_hdr()), 12, False), (ram.buf(bytes(64)), 64, False)])
    ram.indirect('rx', [(ram.buf(bytes(600)), 600, True), (ram.buf(bytes(1000)), 1000, True)])


def net_rx_many(ram):
    for _ in range(4):
        ram.chain('rx', [(ram.buf(bytes(256)), 256, True)])


def net_mergeable(ram):
    # A readable chain first (returned empty), then small buffers a frame spreads over.
    ram.chain('rx', [(ram.buf(bytes(64)), 64, False)])
    for _ in range(6):
        ram.chain('rx', [(ram.buf(bytes(128)), 128, True)])
    ram.chain('rx', [(ram.buf(bytes(8)), 8, True), (ram.buf(bytes(600)), 600, True)])


# ---- fuzz_vsock: byte 0 log2(tx num), 1 log2(rx num), 2 features ----

OP_REQUEST, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE, OP_CREDIT_REQUEST = range(1, 8)


def vsock_hdr(op, src_port=1234, dst_port=5000, length=0, flags=0, buf_alloc=65536,
              fwd_cnt=0, src_cid=3, dst_cid=2, typ=1):
    return struct.pack('<QQIIIHHIII', src_cid, dst_cid, src_port, dst_port, length, typ, op,
                       flags, buf_alloc, fwd_cnt)


def vsock_seed(name, features, build, log2tx=3, log2rx=3):
    ram = Ram(1 << log2tx, 1 << log2rx)
    build(ram)
    write('fuzz_vsock', name, bytes([log2tx, log2rx, features]) + ram.image())


def vsock_pkt(ram, op, payload=b'', **kw):
    bufs = [(ram.buf(vsock_hdr(op, length=len(payload), **kw)), 44, False)]
    if payload:
        bufs.append((ram.buf(payload), len(payload), False))
    ram.chain('tx', bufs)


def vsock_rx(ram, n):
    for _ in range(n):
        ram.chain('rx', [(ram.buf(bytes(44 + 64)), 44 + 64, True)])


def vsock_connect(ram):
    vsock_pkt(ram, OP_REQUEST)
    vsock_pkt(ram, OP_RW, b'hello, host\n')
    vsock_pkt(ram, OP_CREDIT_REQUEST)
    vsock_pkt(ram, OP_SHUTDOWN, flags=3)
    vsock_rx(ram, 4)


def vsock_refused(ram):
    vsock_pkt(ram, OP_REQUEST, dst_port=6000)
    vsock_pkt(ram, OP_RW, b'x' * 100, src_port=77, dst_port=6001)
    vsock_pkt(ram, OP_RESPONSE, src_port=78, dst_port=6002)
    vsock_rx(ram, 4)


def vsock_half_close(ram):
    vsock_pkt(ram, OP_REQUEST, src_port=2000)
    vsock_pkt(ram, OP_CREDIT_UPDATE, src_port=2000, fwd_cnt=100)
    vsock_pkt(ram, OP_SHUTDOWN, src_port=2000, flags=2)
    vsock_pkt(ram, OP_RW, b'late', src_port=2000)
    vsock_rx(ram, 3)


def vsock_indirect(ram):
    hdr = ram.buf(vsock_hdr(OP_RW, length=8, src_port=1234))
    ram.chain('tx', [(ram.buf(vsock_hdr(OP_REQUEST)), 44, False)])
    ram.indirect('tx', [(hdr, 44, False), (ram.buf(b'12345678'), 8, False)])
    ram.indirect('rx', [(ram.buf(bytes(20)), 20, True), (ram.buf(bytes(100)), 100, True)])
    vsock_rx(ram, 1)


if __name__ == '__main__':
    net_seed('plain', NET_CSUM | NET_TSO4, [100], net_plain)
    net_seed('offload', NET_CSUM | NET_TSO4 | NET_TSO6 | NET_EVENT_IDX, [1514], net_offload)
    net_seed('indirect', NET_INDIRECT, [60, 1200], net_indirect)
    net_seed('rx-many', NET_EVENT_IDX, [12, 60, 300], net_rx_many)
    # 512 bytes over four 128-byte buffers, one over the MTU (dropped), one that fits the rest.
    net_seed('mergeable', NET_MRG_RXBUF | NET_MTU | NET_EVENT_IDX, [512, 1600, 300],
             net_mergeable)
    vsock_seed('connect', 0, vsock_connect)
    vsock_seed('refused', 2, vsock_refused)
    vsock_seed('half-close', 0, vsock_half_close, log2tx=2, log2rx=2)
    vsock_seed('indirect', 1, vsock_indirect)
