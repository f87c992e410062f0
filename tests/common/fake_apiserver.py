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

For `nodescope fleet`: lists honour labelSelector (k=v, k!=v, k; comma-separated) and
/api/v1/namespaces/NS/pods; the pod proxy (/api/v1/namespaces/NS/pods/POD:PORT/proxy/PATH)
answers from DIR/proxy.json, {"NS/POD": {"code": 200, "body": {...}, "last_modified": "...",
"hang": false}}; a pod not in it is 503 as the real proxy answers for a pod with no endpoint.

For `nodescope debug`: POST /api/v1/namespaces/NS/pods creates a pod (its body is appended
to LOGFILE.created, one JSON per line); GET of it answers Running until its log was served
to the end, then Succeeded or Failed with the exit code of DIR/debug.json
{"log": "...", "exit_code": 0, "hold": false} (or Pending for ever with "waiting":
{"reason": ..., "message": ...}); GET .../log?follow=true streams the log a line
at a time, then (hold) keeps the stream open; DELETE removes it. /apis/apps/v1/daemonsets
answers DIR/daemonsets.json.
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
cache = {}
created = {}  # "ns/name" -> [pod, log served to the end]


def load(name):
    """The parsed file, cached by modification time (the fleet's 1,000-node documents are
    asked for 1,000 times)."""
    path = os.path.join(data_dir, name)
    mtime = os.stat(path).st_mtime_ns
    with lock:
        hit = cache.get(path)
    if hit and hit[0] == mtime:
        return json.loads(json.dumps(hit[1])) if name != "proxy.json" else hit[1]
    with open(path) as f:
        value = json.load(f)
    with lock:
        cache[path] = (mtime, value)
    return json.loads(json.dumps(value)) if name != "proxy.json" else value


def selected(obj, selector):
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, selector.split(",")):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k) != v.lstrip("="):
                return False
        elif term not in labels:
            return False
    return True


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

    def record(self, method):
        who = self.who()
        with lock:
            with open(log_file, "a") as f:
                f.write(f"{method} {self.path} auth={who}\n")
        return who

    def do_POST(self):
        self.record("POST")
        parts = urllib.parse.urlparse(self.path).path.strip("/").split("/")
        if len(parts) != 5 or parts[:3] != ["api", "v1", "namespaces"] or parts[4] != "pods":
            return self.send(404, status(404, "NotFound", "the server could not find the requested resource"))
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        pod = json.loads(body)
        with lock:
            with open(log_file + ".created", "a") as f:
                f.write(json.dumps(pod) + "\n")
        meta = pod.setdefault("metadata", {})
        meta["namespace"] = parts[3]
        meta["uid"] = "0b5e7c1e-6d1c-4a7b-9a55-%012d" % len(created)
        pod["status"] = {"phase": "Pending"}
        with lock:
            created[f"{parts[3]}/{meta['name']}"] = [pod, False]
        return self.send(201, pod)

    def do_DELETE(self):
        self.record("DELETE")
        parts = urllib.parse.urlparse(self.path).path.strip("/").split("/")
        key = "/".join(parts[3:6:2]) if len(parts) == 6 else ""
        with lock:
            entry = created.pop(key, None)
        if entry is None:
            return self.send(404, status(404, "NotFound", f'pods "{parts[-1]}" not found'))
        return self.send(200, entry[0])

    def debug_pod(self, key, log):
        with lock:
            entry = created.get(key)
        if entry is None:
            return self.send(404, status(404, "NotFound", f'pods "{key.split("/")[1]}" not found'))
        script = load("debug.json")
        if not log:
            pod = json.loads(json.dumps(entry[0]))
            name = pod["spec"]["containers"][0]["name"]
            if script.get("waiting"):
                pod["status"] = {"phase": "Pending", "containerStatuses": [
                    {"name": name, "ready": False, "restartCount": 0, "image": "", "imageID": "",
                     "state": {"waiting": script["waiting"]}}]}
            elif entry[1]:
                code = script.get("exit_code", 0)
                pod["status"] = {"phase": "Succeeded" if code == 0 else "Failed", "containerStatuses": [
                    {"name": name, "ready": False, "restartCount": 0, "image": "", "imageID": "",
                     "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}}}]}
            else:
                pod["status"] = {"phase": "Running", "containerStatuses": [
                    {"name": name, "ready": True, "restartCount": 0, "image": "", "imageID": "",
                     "state": {"running": {"startedAt": "2026-12-06T10:00:00Z"}}}]}
            return self.send(200, pod)
        # A followed log comes chunked, as kube-apiserver streams it (HTTP/1.1).
        self.protocol_version = "HTTP/1.1"
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        for line in script.get("log", "").splitlines(keepends=True):
            raw = line.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
            self.wfile.flush()
            time.sleep(0.05)
        if script.get("hold"):
            time.sleep(3600)
        with lock:
            if key in created:
                created[key][1] = True
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def proxy(self, ns, target, rest):
        pod = target.split(":", 1)[0]
        entry = load("proxy.json").get(f"{ns}/{pod}")
        if entry is None:
            return self.send(503, status(503, "ServiceUnavailable", f'no endpoints available for pod "{pod}"'))
        if entry.get("hang"):
            time.sleep(3600)
            return
        raw = json.dumps(entry.get("body", {})).encode()
        if entry.get("code", 200) == 403:
            return self.send(403, status(403, "Forbidden",
                f'pods "{pod}" is forbidden: User "dev" cannot get resource "pods/proxy" in API group "" in the namespace "{ns}"'))
        self.send_response(entry.get("code", 200))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        if entry.get("last_modified"):
            self.send_header("Last-Modified", entry["last_modified"])
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        who = self.record("GET")
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
        label = q.get("labelSelector", [""])[0]
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
        if len(parts) >= 7 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods" and parts[6] == "proxy":
            return self.proxy(parts[3], parts[5], parts[7:])
        if len(parts) in (6, 7) and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
            return self.debug_pod(f"{parts[3]}/{parts[5]}", len(parts) == 7)
        if len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
            pods = load("pods.json")
            pods["items"] = [p for p in pods["items"] if p["metadata"].get("namespace") == parts[3]
                             and selected(p, label)]
            return self.send(200, pods)
        if parts[:3] == ["api", "v1", "nodes"]:
            nodes = load("nodes.json")
            nodes["items"] = [n for n in nodes["items"] if selected(n, label)]
            if len(parts) == 4:
                for n in nodes["items"]:
                    if n["metadata"]["name"] == parts[3]:
                        return self.send(200, n)
                return self.send(404, status(404, "NotFound", f'nodes "{parts[3]}" not found'))
            return self.send(200, nodes)
        if url.path == "/api/v1/pods":
            pods = load("pods.json")
            pods["items"] = [p for p in pods["items"] if selected(p, label)]
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
        if url.path == "/apis/apps/v1/daemonsets":
            ds = load("daemonsets.json")
            ds["items"] = [d for d in ds["items"] if selected(d, label)]
            return self.send(200, ds)
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
