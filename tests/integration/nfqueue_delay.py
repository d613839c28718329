"""nfqueue_delay.py - the delayer behind netlab.Lab.set_delay: accepts
every packet of an NFQUEUE a fixed time after it was queued, in order.

netlab runs it inside the delayed host's namespace (the NFQUEUE and the
netlink socket both belong to a namespace), where iptables sends the
host's packets to the queue.  Raw netlink (nfnetlink_queue), Python 3
standard library only; the kernel has no sch_netem to do this for us.

    python3 nfqueue_delay.py    (then "delay QUEUE MS" lines on stdin)
"""

import collections
import errno
import os
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_CONFIG = 2
NFQNL_MSG_VERDICT_BATCH = 3
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQA_CFG_F_FAIL_OPEN = 1
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NF_ACCEPT = 1
QUEUE_MAXLEN = 8192


class _NfQueue:
    """One netlink socket bound to any number of NFQUEUE queues."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind((0, 0))
        self.seq = 0
        self.backlog = []  # packets that arrived while waiting for an ack

    def _send(self, msg_type, queue, attrs, flags=NLM_F_REQUEST):
        payload = struct.pack(">BBH", socket.AF_UNSPEC, 0, queue)  # nfgenmsg, res_id = queue
        for atype, data in attrs:
            alen = 4 + len(data)
            payload += struct.pack("=HH", alen, atype) + data + b"\0" * (-alen % 4)
        self.seq += 1
        header = struct.pack("=IHHII", 16 + len(payload), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, self.seq, 0)
        self.sock.send(header + payload)

    def _expect_ack(self):
        while True:
            data = self.sock.recv(1 << 16)
            for msg_type, msg in self._messages(data):
                if msg_type == NLMSG_ERROR:
                    (error,) = struct.unpack_from("=i", msg, 16)
                    if error != 0:
                        raise OSError(-error, f"nfqueue config: {os.strerror(-error)}")
                    return
                self.backlog.extend(self._packet(msg_type, msg))

    @staticmethod
    def _messages(data):
        off = 0
        while off + 16 <= len(data):
            length, msg_type = struct.unpack_from("=IH", data, off)
            if length < 16:
                return
            yield msg_type, data[off:off + length]
            off += (length + 3) & ~3

    @staticmethod
    def _packet(msg_type, msg):
        """[(queue, packet id)] for a packet message, else []."""
        if msg_type != (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            return []
        (queue,) = struct.unpack_from(">H", msg, 18)
        pos = 20
        while pos + 4 <= len(msg):
            alen, atype = struct.unpack_from("=HH", msg, pos)
            if alen < 4:
                break
            if (atype & 0x3FFF) == NFQA_PACKET_HDR:
                return [(queue, struct.unpack_from(">I", msg, pos + 4)[0])]
            pos += (alen + 3) & ~3
        return []

    def bind(self, queue):
        config = [
            [(NFQA_CFG_CMD, struct.pack(">BBH", NFQNL_CFG_CMD_BIND, 0, 0))],
            [(NFQA_CFG_PARAMS, struct.pack(">IB", 0, NFQNL_COPY_META)),
             (NFQA_CFG_QUEUE_MAXLEN, struct.pack(">I", QUEUE_MAXLEN)),
             (NFQA_CFG_MASK, struct.pack(">I", NFQA_CFG_F_FAIL_OPEN)),
             (NFQA_CFG_FLAGS, struct.pack(">I", NFQA_CFG_F_FAIL_OPEN))],
        ]
        for attrs in config:
            self._send(NFQNL_MSG_CONFIG, queue, attrs, NLM_F_REQUEST | NLM_F_ACK)
            self._expect_ack()

    def accept_through(self, queue, packet_id):
        """Accepts every packet of queue up to and including packet_id."""
        self._send(NFQNL_MSG_VERDICT_BATCH, queue, [(NFQA_VERDICT_HDR, struct.pack(">II", NF_ACCEPT, packet_id))])

    def read_packets(self):
        """[(queue, packet id)] for every queued packet readable now."""
        out, self.backlog = self.backlog, []
        while True:
            try:
                data = self.sock.recv(1 << 16, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return out
            except OSError as e:
                if e.errno != errno.ENOBUFS:
                    raise
                continue  # notifications were lost; a later batch verdict covers those packets
            for msg_type, msg in self._messages(data):
                out.extend(self._packet(msg_type, msg))


def main():
    """stdin takes lines "delay QUEUE MS" (binds QUEUE the first time) and
    answers "ok" on stdout once in force; EOF ends it.  A packet is
    accepted MS after it was queued, never before one queued earlier.
    """
    nfq = _NfQueue()
    delays = {}
    pending = collections.defaultdict(collections.deque)  # queue -> (due, packet id)
    last_due = collections.defaultdict(float)
    stdin = sys.stdin.fileno()
    line_buf = b""
    while True:
        now = time.monotonic()
        dues = [q[0][0] for q in pending.values() if q]
        timeout = max(0.0, min(dues) - now) if dues else None
        readable, _, _ = select.select([nfq.sock, stdin], [], [], timeout)
        if stdin in readable:
            chunk = os.read(stdin, 4096)
            if not chunk:
                return
            line_buf += chunk
            while b"\n" in line_buf:
                line, line_buf = line_buf.split(b"\n", 1)
                words = line.decode().split()
                if len(words) == 3 and words[0] == "delay":
                    queue, ms = int(words[1]), float(words[2])
                    if queue not in delays:
                        nfq.bind(queue)
                    delays[queue] = ms / 1000.0
                    sys.stdout.write("ok\n")
                    sys.stdout.flush()
        now = time.monotonic()
        for queue, packet_id in nfq.read_packets():
            due = max(now + delays.get(queue, 0.0), last_due[queue])
            last_due[queue] = due
            pending[queue].append((due, packet_id))
        now = time.monotonic()
        for queue, items in pending.items():
            through = None
            while items and items[0][0] <= now:
                through = items.popleft()[1]
            if through is not None:
                nfq.accept_through(queue, through)


if __name__ == "__main__":
    main()
