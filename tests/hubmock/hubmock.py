#!/usr/bin/env python3
"""A Hugging Face Hub stand-in on 127.0.0.1 for the scout-fetch tests (spec/data.md section 2).

Two servers (python3 standard library, ThreadingHTTPServer), each on a free port:

  hub   /api/{datasets|models}/{repo}/revision/{rev}      -> {"sha": ...}
        /api/{datasets|models}/{repo}/tree/{rev}/{path}   -> JSON entries, page_size per page, with
                                                             Link: <...&cursor=K>; rel="next"
        /[datasets/]{repo}/resolve/{rev}/{path}           -> LFS files: 302 to the CDN with
                                                             X-Linked-Size / X-Linked-Etag;
                                                             files kept in git: 200 with ETag = blob id
  cdn   /cdn/{sha256}?gen=G&sig=...                      -> the bytes, with Range (206)

Both log every request (method, path, every header, status) as JSON lines to STATE/hub.log and
STATE/cdn.log, so a test can assert that the token never reached the CDN. The ports are written to
STATE/ports ("HUB_PORT CDN_PORT", written whole by a rename). The process exits by itself after
`lifetime` seconds.

Configuration (JSON file, first argument):
  {"repos": [{"type": "dataset"|"model", "name": "owner/name", "dir": "/path/of/its/files",
              "commit": "<40 hex>", "lfs": ["*.parquet", ...]}],
   "page_size": 3, "lifetime": 60,
   "extra_tree_entries": [{...}],            # appended to every tree listing (hostile entries)
   "faults": [{"kind": ..., "path": "repo/path/of/the/file", "times": N, ...}]}

Fault kinds (each fires for its first `times` matching requests; times -1 = always):
  resolve_status  /resolve/ answers `status` (with `retry_after` and/or `ratelimit` headers)
  tree_status     the tree page with cursor `page` (0 = first) answers `status`
  cdn_status      the CDN answers `status`
  cdn_cut         the CDN sends full headers, `after` body bytes, then closes the connection
  cdn_corrupt     the CDN flips the byte at file offset `offset` while serving it
  cdn_expire      the signed URL in use stops after `after` bytes (connection cut) and then answers
                  403 until the client resolves again, which hands out a fresh URL
  cdn_ignore_range a ranged GET is answered 200 with the whole file
  cdn_throttle    the CDN serves at most `bytes_per_s` (to interrupt a transfer mid-file, or to keep
                  a later file downloading while an earlier one is printed)
"""
import fnmatch
import hashlib
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONFIG = {}
REPOS = {}          # (type, name) -> {"commit", "files": {path: info}, "dirs": set}
BY_SHA = {}         # sha256 -> info (CDN lookups)
FAULTS = []
URL_GEN = {}        # sha256 -> current URL generation (cdn_expire)
EXPIRED = set()     # (sha256, gen) that now answer 403
LOCK = threading.Lock()
STATE = ""
LOGS = {}


def git_blob_oid(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def load_repo(r):
    files, dirs = {}, set()
    root = r["dir"]
    for base, _, names in os.walk(root):
        for n in names:
            full = os.path.join(base, n)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            size = os.path.getsize(full)
            sha = hashlib.sha256()
            gsha = hashlib.sha1(b"blob %d\0" % size)
            with open(full, "rb") as f:
                while True:
                    block = f.read(1 << 22)
                    if not block:
                        break
                    sha.update(block)
                    gsha.update(block)
            lfs = any(fnmatch.fnmatch(rel, p) for p in r.get("lfs", []))
            info = {"path": rel, "full": full, "size": size, "sha256": sha.hexdigest(),
                    "git_oid": gsha.hexdigest(), "lfs": lfs}
            if lfs:
                # The git blob of an LFS file is its pointer, not its content.
                pointer = ("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n"
                           % (info["sha256"], size)).encode()
                info["pointer_oid"] = git_blob_oid(pointer)
                info["pointer_size"] = len(pointer)
                BY_SHA[info["sha256"]] = info
            files[rel] = info
            parts = rel.split("/")
            for k in range(1, len(parts)):
                dirs.add("/".join(parts[:k]))
    REPOS[(r["type"], r["name"])] = {"commit": r["commit"], "files": files, "dirs": dirs}


def take_fault(kind, **match):
    """The first armed fault of this kind matching every given key, consumed once; or None."""
    with LOCK:
        for f in FAULTS:
            if f["kind"] != kind or f.get("times", 1) == 0:
                continue
            if any(k in f and f[k] != v for k, v in match.items()):
                continue
            if f.get("times", 1) > 0:
                f["times"] = f.get("times", 1) - 1
            return f
    return None


def peek_fault(kind, **match):
    with LOCK:
        for f in FAULTS:
            if f["kind"] == kind and f.get("times", 1) != 0 and not any(k in f and f[k] != v for k, v in match.items()):
                return f
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_name = "hub"

    def log_message(self, fmt, *args):  # quiet: the JSON logs say everything
        pass

    def log_request_json(self, status):
        entry = {"t": time.time(), "method": self.command, "path": self.path, "status": status,
                 "headers": {k: v for k, v in self.headers.items()}}
        with LOCK:
            f = LOGS[self.server_name]
            f.write(json.dumps(entry) + "\n")
            f.flush()

    def reply(self, status, body=b"", headers=None, content_type="application/json"):
        self.log_request_json(status)
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply_json(self, status, obj, headers=None):
        self.reply(status, json.dumps(obj).encode(), headers)

    def error_json(self, status, code, message):
        self.reply_json(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message})

    def do_HEAD(self):
        self.do_GET()


class HubHandler(Handler):
    server_name = "hub"

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        segs = url.path.split("/")[1:]
        query = urllib.parse.parse_qs(url.query)
        if segs[:1] == ["api"] and len(segs) >= 5 and segs[1] in ("datasets", "models"):
            kind = "dataset" if segs[1] == "datasets" else "model"
            name = "/".join(urllib.parse.unquote(s) for s in segs[2:4])
            return self.api(kind, name, segs[4], [urllib.parse.unquote(s) for s in segs[5:]], query, url)
        kind = "model"
        if segs[:1] == ["datasets"]:
            kind, segs = "dataset", segs[1:]
        if len(segs) >= 5 and segs[2] == "resolve":
            name = "/".join(urllib.parse.unquote(s) for s in segs[:2])
            rev = urllib.parse.unquote(segs[3])
            path = "/".join(urllib.parse.unquote(s) for s in segs[4:])
            return self.resolve(kind, name, rev, path)
        self.error_json(404, "NotFound", "no such route")

    def find_repo(self, kind, name, rev):
        repo = REPOS.get((kind, name))
        if repo is None:
            self.error_json(404, "RepoNotFound", "Repository not found")
            return None
        if rev not in ("main", repo["commit"]):
            self.error_json(404, "RevisionNotFound", "Invalid rev id: " + rev)
            return None
        return repo

    def api(self, kind, name, op, rest, query, url):
        if op == "revision" and rest:
            repo = self.find_repo(kind, name, "/".join(rest))
            if repo:
                self.reply_json(200, {"id": name, "sha": repo["commit"],
                                      "siblings": [{"rfilename": p} for p in sorted(repo["files"])]})
            return
        if op == "tree" and rest:
            repo = self.find_repo(kind, name, rest[0])
            if repo:
                self.tree(repo, "/".join(rest[1:]), query, url)
            return
        self.error_json(404, "NotFound", "no such api")

    def tree(self, repo, path, query, url):
        recursive = query.get("recursive", ["false"])[0] == "true"
        if path and path not in repo["dirs"]:
            return self.error_json(404, "EntryNotFound", "no such directory: " + path)
        prefix = path + "/" if path else ""
        entries = []
        for d in sorted(repo["dirs"]):
            if d.startswith(prefix) and (recursive or "/" not in d[len(prefix):]):
                entries.append({"type": "directory", "oid": "0" * 40, "size": 0, "path": d})
        for p, info in sorted(repo["files"].items()):
            if not p.startswith(prefix) or (not recursive and "/" in p[len(prefix):]):
                continue
            e = {"type": "file", "size": info["size"], "path": p}
            if info["lfs"]:
                e["oid"] = info["pointer_oid"]
                e["lfs"] = {"oid": info["sha256"], "size": info["size"], "pointerSize": info["pointer_size"]}
            else:
                e["oid"] = info["git_oid"]
            entries.append(e)
        entries.sort(key=lambda e: e["path"])
        entries += CONFIG.get("extra_tree_entries", [])
        cursor = int(query.get("cursor", ["0"])[0])
        fault = take_fault("tree_status", page=cursor)
        if fault:
            return self.reply_json(fault["status"], {"error": "injected"})
        size = CONFIG.get("page_size", 1000)
        page = entries[cursor:cursor + size]
        headers = {}
        if cursor + size < len(entries):
            q = {k: v[0] for k, v in query.items()}
            q["cursor"] = str(cursor + size)
            nxt = "http://127.0.0.1:%d%s?%s" % (self.server.server_port, url.path, urllib.parse.urlencode(q))
            headers["Link"] = '<%s>; rel="next"' % nxt
        self.reply_json(200, page, headers)

    def resolve(self, kind, name, rev, path):
        repo = self.find_repo(kind, name, rev)
        if not repo:
            return
        info = repo["files"].get(path)
        if info is None:
            return self.error_json(404, "EntryNotFound", "no such file: " + path)
        fault = take_fault("resolve_status", path=path)
        if fault:
            headers = {}
            if "retry_after" in fault:
                headers["Retry-After"] = str(fault["retry_after"])
            if "ratelimit" in fault:
                headers["RateLimit"] = fault["ratelimit"]
            return self.reply_json(fault["status"], {"error": "injected"}, headers)
        common = {"X-Repo-Commit": repo["commit"]}
        if info["lfs"]:
            with LOCK:
                gen = URL_GEN.get(info["sha256"], 0) + 1
                URL_GEN[info["sha256"]] = gen
            location = "http://127.0.0.1:%d/cdn/%s?gen=%d&X-Amz-Signature=%s" % (
                CDN_PORT, info["sha256"], gen, hashlib.sha1(b"%d" % gen).hexdigest())
            headers = dict(common, **{"Location": location, "X-Linked-Size": str(info["size"]),
                                      "X-Linked-Etag": '"%s"' % info["sha256"], "ETag": '"%s"' % info["pointer_oid"]})
            return self.reply(302, b"", headers, "text/plain")
        with open(info["full"], "rb") as f:
            data = f.read()
        self.reply(200, data, dict(common, ETag='"%s"' % info["git_oid"]), "application/octet-stream")


class CdnHandler(Handler):
    server_name = "cdn"

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        segs = url.path.split("/")
        query = urllib.parse.parse_qs(url.query)
        info = BY_SHA.get(segs[2]) if len(segs) == 3 and segs[1] == "cdn" else None
        if info is None:
            return self.reply(404, b"NoSuchKey", content_type="text/plain")
        sha, gen = info["sha256"], int(query.get("gen", ["0"])[0])
        path = info["path"]
        with LOCK:
            expired = (sha, gen) in EXPIRED
        if expired:
            return self.reply(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                              content_type="application/xml")
        fault = take_fault("cdn_status", path=path)
        if fault:
            return self.reply(fault["status"], b"injected", content_type="text/plain")
        size = info["size"]
        start, end = 0, size - 1
        rng = self.headers.get("Range")
        ranged = False
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a) if a else 0
            end = min(int(b), size - 1) if b else size - 1
            ranged = True
            if start >= size:
                return self.reply(416, b"", {"Content-Range": "bytes */%d" % size}, "text/plain")
            if ranged and take_fault("cdn_ignore_range", path=path):
                start, end, ranged = 0, size - 1, False
        cut = None
        f = take_fault("cdn_cut", path=path)
        if f:
            cut = f["after"]
        exp = peek_fault("cdn_expire", path=path)
        if exp:
            cut = exp["after"]
            take_fault("cdn_expire", path=path)
            with LOCK:
                EXPIRED.add((sha, gen))
        corrupt = peek_fault("cdn_corrupt", path=path)
        if corrupt and not (start <= corrupt["offset"] <= end):
            corrupt = None
        elif corrupt:
            take_fault("cdn_corrupt", path=path)
        throttle = take_fault("cdn_throttle", path=path)
        status = 206 if ranged else 200
        self.log_request_json(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        if ranged:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        if self.command == "HEAD":
            return
        self.send_body(info, start, end, cut, corrupt, throttle)

    def send_body(self, info, start, end, cut, corrupt, throttle):
        count = end - start + 1
        if cut is not None:
            count = min(count, cut)
        try:
            with open(info["full"], "rb") as f:
                if not corrupt and not throttle:
                    # sendfile: the bench serves gigabytes at disk speed through this path.
                    self.wfile.flush()
                    self.connection.sendfile(f, start, count)
                else:
                    f.seek(start)
                    sent, block = 0, 65536 if not throttle else max(1, throttle["bytes_per_s"] // 20)
                    while sent < count:
                        data = bytearray(f.read(min(block, count - sent)))
                        if corrupt and start + sent <= corrupt["offset"] < start + sent + len(data):
                            data[corrupt["offset"] - start - sent] ^= 0x01
                        self.wfile.write(data)
                        sent += len(data)
                        if throttle:
                            time.sleep(0.05)
            if cut is not None and cut < end - start + 1:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def serve(handler):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    global CONFIG, STATE, CDN_PORT
    if len(sys.argv) != 3:
        sys.exit("usage: hubmock.py CONFIG.json STATE_DIR")
    with open(sys.argv[1]) as f:
        CONFIG = json.load(f)
    STATE = sys.argv[2]
    os.makedirs(STATE, exist_ok=True)
    for r in CONFIG["repos"]:
        load_repo(r)
    FAULTS.extend(CONFIG.get("faults", []))
    for name in ("hub", "cdn"):
        LOGS[name] = open(os.path.join(STATE, name + ".log"), "a")
    cdn = serve(CdnHandler)
    CDN_PORT = cdn.server_port
    hub = serve(HubHandler)
    tmp = os.path.join(STATE, "ports.tmp")
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (hub.server_port, cdn.server_port))
    os.rename(tmp, os.path.join(STATE, "ports"))
    # Never outlive a test run, even when the test that started us is killed.
    time.sleep(float(CONFIG.get("lifetime", 60)))
    os._exit(0)


CDN_PORT = 0
if __name__ == "__main__":
    main()
