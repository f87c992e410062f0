#!/usr/bin/env python3
"""A stand-in for kube-apiserver in tests: serves List documents from a directory the way the
real server answers the requests nodescope makes, and logs every request it sees.

  fake_apiserver.py DIR MODE PORTFILE LOGFILE [--tls CERT KEY [CLIENT_CA]] [--token TOKEN]

MODE: ok | hang (accept, never answer) | forbid-pending (403 on status.phase=Pending) |
forbid-proxy (403 on nodes/proxy, as the Node authorizer answers a kubelet's credentials) |
malformed (invalid JSON everywhere). The kubelet's own endpoints through the node proxy,
/api/v1/nodes/<node>/proxy/configz and .../proxy/stats/summary, answer with DIR/configz.json
and DIR/stats-summary.json (404 when absent, as a kubelet behind a proxy that cannot reach it
answers with an error status). The chosen port is written to PORTFILE. Each request is
logged as "METHOD PATH?QUERY auth=<bearer token or client certificate CN or ->".
"""
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

data_dir, mode, port_file, log_file = sys.argv[1:5]
args = sys.argv[5:]
tls = token = None
if "--tls" in args:
    i = args.index("--tls")
    tls = args[i + 1:i + 4] if len(args) > i + 3 and not args[i + 3].startswith("--") else args[i + 1:i + 3]
if "--token" in args:
    token = args[args.index("--token") + 1]
lock = threading.Lock()


def load(name):
    with open(os.path.join(data_dir, name)) as f:
        return json.load(f)


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def who(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer "):]
        cert = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        return "CN=" + v
        return "-"

    def send(self, code, body):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        who = self.who()
        with lock:
            with open(log_file, "a") as f:
                f.write(f"GET {self.path} auth={who}\n")
        if mode == "hang":
            time.sleep(3600)
            return
        if token is not None and who != token:
            return self.send(401, status(401, "Unauthorized", "Unauthorized"))
        if mode == "malformed":
            return self.send(200, b"{\"kind\": \"NodeList\", \"items\": [")
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        field = q.get("fieldSelector", [""])[0]
        parts = url.path.strip("/").split("/")
        if parts[:3] == ["api", "v1", "nodes"] and len(parts) > 5 and parts[4] == "proxy":
            if mode == "forbid-proxy":
                return self.send(403, status(403, "Forbidden",
                    f'nodes "{parts[3]}" is forbidden: User "system:node:node-a" cannot get resource "nodes/proxy" in API group "" at the cluster scope'))
            name = {"configz": "configz.json", "stats/summary": "stats-summary.json"}.get("/".join(parts[5:]))
            if name is None or not os.path.exists(os.path.join(data_dir, name)):
                return self.send(404, status(404, "NotFound", "the server could not find the requested resource"))
            with open(os.path.join(data_dir, name), "rb") as f:
                return self.send(200, f.read())
        if parts[:3] == ["api", "v1", "nodes"]:
            nodes = load("nodes.json")
            if len(parts) == 4:
                for n in nodes["items"]:
                    if n["metadata"]["name"] == parts[3]:
                        return self.send(200, n)
                return self.send(404, status(404, "NotFound", f'nodes "{parts[3]}" not found'))
            return self.send(200, nodes)
        if url.path == "/api/v1/pods":
            pods = load("pods.json")
            if field.startswith("spec.nodeName="):
                # "spec.nodeName=N" or "spec.nodeName=N,status.phase!=Succeeded,status.phase!=Failed"
                terms = field.split(",")
                node = terms[0].split("=", 1)[1]
                unwanted = [t.split("!=", 1)[1] for t in terms[1:] if t.startswith("status.phase!=")]
                pods["items"] = [p for p in pods["items"] if p["spec"].get("nodeName") == node
                                 and p["status"].get("phase") not in unwanted]
            elif field == "status.phase=Pending":
                if mode == "forbid-pending":
                    return self.send(403, status(403, "Forbidden",
                        'pods is forbidden: User "system:node:node-a" cannot list resource "pods" in API group "" at the cluster scope'))
                pods["items"] = [p for p in pods["items"] if p["status"].get("phase") == "Pending"]
            return self.send(200, pods)
        if url.path == "/api/v1/events":
            return self.send(200, load("events.json"))
        return self.send(404, status(404, "NotFound", "the server could not find the requested resource"))


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
if tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls[0], tls[1])
    if len(tls) > 2:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(tls[2])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
