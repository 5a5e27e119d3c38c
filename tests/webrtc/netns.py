# SPDX-License-Identifier: LGPL-2.1-or-later
"""Two network namespaces joined by a veth pair, as two machines on a LAN: libnice ignores the
loopback interface, so WebRTC is tested between them. Names are unique per run, and both
namespaces (with the veth pair) are removed on close(), also when a test fails."""
import os
import subprocess
import uuid

SERVER_ADDRESS = "10.77.0.1"
CLIENT_ADDRESS = "10.77.0.2"


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class NetnsPair:
    def __init__(self):
        tag = uuid.uuid4().hex[:8]
        self.server = f"crsrv-{tag}"
        self.client = f"crcli-{tag}"
        veth_s, veth_c = f"crs{tag}", f"crc{tag}"
        self.server_dev, self.client_dev = veth_s, veth_c
        self._made = []
        try:
            for ns in (self.server, self.client):
                ip("netns", "add", ns)
                self._made.append(ns)
            ip("link", "add", veth_s, "type", "veth", "peer", "name", veth_c)
            ip("link", "set", veth_s, "netns", self.server)
            ip("link", "set", veth_c, "netns", self.client)
            for ns, dev, addr in ((self.server, veth_s, SERVER_ADDRESS),
                                  (self.client, veth_c, CLIENT_ADDRESS)):
                ip("-n", ns, "addr", "add", addr + "/24", "dev", dev)
                ip("-n", ns, "link", "set", dev, "up")
                ip("-n", ns, "link", "set", "lo", "up")
        except Exception:
            self.close()
            raise

    def mac(self, ns, dev):
        r = subprocess.run(["ip", "-n", ns, "-br", "link", "show", dev], check=True,
                           capture_output=True, text=True)
        return r.stdout.split()[2]

    def run_in(self, ns):
        return ["ip", "netns", "exec", ns]

    def close(self):
        # Deleting a namespace deletes the veth end inside it, and with it the pair.
        for ns in self._made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self._made = []
