#!/usr/bin/env python3
"""make fuzz-seeds: the seed corpora (tests/fuzz/corpus/<target>/) and the
dictionaries (tests/fuzz/dict/<target>.dict) of the fuzz targets, from the
inputs the tests and the README already use:

  http            the requests of tests/unit/test_http*.c (their string
                  literals, GET_HDR and put_request() as the tests expand
                  them), each whole, a byte at a time and in small reads
  json_config     the bodies of the route and config tests and the README,
                  as "METHOD PATH" or "CONFIG", a newline, the body
  snapshot_state  state files from mvm's own writer (seed_snapshot.c)
  loaders         the ELF and bzImage images test_elf.c and test_bzimage.c
                  build, with PVH notes, and the stripped test guests
                  hello.elf (PVH note) and hello64.elf (none)

Seeds are named by their SHA-1, like libFuzzer's; none is over 64 KiB.
"""
import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MAX_SEED = 64 * 1024

LIT = r'"(?:[^"\\\n]|\\.)*"'


def c_unescape(lit):
    """The bytes of one C string literal (with its quotes)."""
    s, out, i = lit[1:-1], bytearray(), 0
    simple = {"n": 10, "r": 13, "t": 9, "0": 0, "\\": 92, '"': 34, "'": 39, "/": 47,
              "a": 7, "b": 8, "f": 12, "v": 11}
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = s[i + 1]
        if n == "x":
            m = re.match(r"[0-9a-fA-F]+", s[i + 2:])
            out.append(int(m[0], 16) & 0xff)
            i += 2 + len(m[0])
        elif n in "01234567":
            m = re.match(r"[0-7]{1,3}", s[i + 1:])
            out.append(int(m[0], 8) & 0xff)
            i += 1 + len(m[0])
        else:
            out.append(simple[n])
            i += 2
    return bytes(out)


def string_macros(paths):
    """#define NAME "literal" in these files: NAME -> its bytes."""
    macros = {}
    for p in paths:
        for m in re.finditer(r'^#define (\w+) ((?:%s\s*)+)$' % LIT, open(p).read(), re.M):
            macros[m[1]] = b"".join(c_unescape(x) for x in re.findall(LIT, m[2]))
    return macros


def literal_runs(text, macros):
    """Every run of adjacent string literals (and string macros), concatenated."""
    names = "|".join(map(re.escape, macros)) or "(?!)"
    tok = r'(?:%s|\b(?:%s)\b)' % (LIT, names)
    for m in re.finditer(r'%s(?:\s*%s)*' % (tok, tok), text):
        parts = re.findall(tok, m[0])
        yield m.start(), b"".join(macros[p] if p in macros else c_unescape(p) for p in parts)


def unit(name):
    return os.path.join(ROOT, "tests", "unit", name)


# ---- http ----------------------------------------------------------------

def put_request(path, body):
    return (b"PUT %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (path, len(body), body))


def http_seeds():
    files = [unit("test_http.c"), unit("test_http_stream.c")]
    macros = string_macros([unit("http_util.h")] + files)
    reqs = []
    for f in files:
        text = open(f).read()
        for m in re.finditer(r'put_request\(\s*(%s),\s*((?:%s\s*)+)\)' % (LIT, LIT), text):
            reqs.append(put_request(c_unescape(m[1]),
                                    b"".join(c_unescape(x) for x in re.findall(LIT, m[2]))))
        for _, s in literal_runs(text, macros):
            # A request line, a prefix of one, or the TLS hello test_http.c sends.
            if re.match(rb"^ ?[A-Za-z]+ /", s) or b"GET / HTTP/1.1\r\nHost: x".startswith(s) \
                    or s.startswith(b"\x16"):
                reqs.append(s)
    # What test_http.c builds in code: url_request() at the URL cap and one
    # past it, padded_request() under and over the header cap.
    url_max = int(re.search(r"#define HTTP_MAX_URL\s+(\d+)",
                            open(os.path.join(ROOT, "api-socket", "http.h")).read())[1])
    for n in (url_max, url_max + 1):
        reqs.append(b"GET /" + b"a" * (n - 1) + macros["GET_HDR"])
    for count, size in ((7, 1000), (9, 1000)):
        reqs.append(b"GET / HTTP/1.1\r\n" + b"".join(
            b"X-Pad-%d: %s\r\n" % (i, b"v" * size) for i in range(count)) + b"\r\n")
    # The API requests the README shows, and two pipelines of them.
    for method, path, body in readme_requests():
        reqs.append(put_request(path.encode(), body.encode()) if body else
                    b"%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % (method.encode(), path.encode()))
    reqs.append(b"".join(reqs[-3:]))
    reqs.append(b"GET /version HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}"
                b"GET / HTTP/1.0\r\n\r\n")
    seeds = []
    for r in dict.fromkeys(reqs):
        seeds += [b"\x00" + r, b"\x01" + r]  # whole; a byte at a time
        if len(r) > 40:
            seeds += [b"\x02" + r, b"\x83" + r]  # small reads; small reads, 64-byte bodies
    return seeds


def http_dict():
    words = ["GET", "PUT", "PATCH", "POST", "DELETE", "HEAD", "OPTIONS", "CONNECT", "HTTP/1.1",
             "HTTP/1.0", "\r\n", "\r\n\r\n", "Host: ", "Content-Length: ",
             "Transfer-Encoding: chunked", "Expect: 100-continue", "Connection: close",
             "Connection: keep-alive", "Content-Type: application/json", "?", "%"]
    return words + api_paths()


# ---- json_config ---------------------------------------------------------

CONFIG_KEYS = {"boot-source", "drives", "machine-config", "network-interfaces", "vsock",
               "balloon", "entropy", "logger", "metrics", "pmem", "mmds-config", "cpu-config"}

# A body's distinctive field -> its route (the id, when the path takes one).
BY_FIELD = [("drive_id", "PUT /drives/%s"), ("iface_id", "PUT /network-interfaces/%s"),
            ("guest_cid", "PUT /vsock"), ("amount_mib", "PUT /balloon"),
            ("action_type", "PUT /actions"), ("state", "PATCH /vm"),
            ("vcpu_count", "PUT /machine-config"), ("mem_size_mib", "PATCH /machine-config"),
            ("kernel_image_path", "PUT /boot-source"), ("snapshot_type", "PUT /snapshot/create"),
            ("mem_backend", "PUT /snapshot/load"), ("snapshot_path", "PUT /snapshot/load"),
            ("log_path", "PUT /logger"), ("level", "PUT /logger"),
            ("metrics_path", "PUT /metrics"), ("serial_out_path", "PUT /serial"),
            ("stats_polling_interval_s", "PATCH /balloon/statistics"),
            ("id", "PUT /pmem/%s"), ("rate_limiter", "PUT /entropy")]


def route_for(obj):
    if set(obj) & CONFIG_KEYS:
        return "CONFIG"
    for field, route in BY_FIELD:
        if field in obj:
            ident = obj[field] if isinstance(obj[field], str) and obj[field] else "x"
            return route % ident if "%s" in route else route
    return None


def readme_requests():
    text = open(os.path.join(ROOT, "README.md")).read()
    out = []
    for m in re.finditer(r"-X (\w+) http://localhost(\S+)(?:\s*\\\n)?(?:\s+-d '([^']*)')?", text):
        out.append((m[1], m[2], m[3] or ""))
    return out


def json_seeds():
    files = sorted(glob.glob(unit("test_routes*.c")) + glob.glob(unit("test_config*.c")))
    macros = string_macros(files + [unit("config_util.h"), unit("routes_util.h")])
    seeds = []
    for f in files:
        text = open(f).read()
        calls = {}
        for m in re.finditer(r'route\(\s*HTTP_(\w+),\s*(%s),\s*' % LIT, text):
            calls[m.end()] = m[1].encode() + b" " + c_unescape(m[2])
        for at, s in literal_runs(text, macros):
            route = calls.get(at)
            try:
                obj = json.loads(s)
            except ValueError:
                obj = None
            if not route and isinstance(obj, dict) and route_for(obj):
                route = route_for(obj).encode()
            if route and (obj is not None or s.startswith(b"{")):
                seeds.append(route + b"\n" + s)
    for method, path, body in readme_requests():
        seeds.append(("%s %s\n%s" % (method, path, body)).encode())
    readme = open(os.path.join(ROOT, "README.md")).read()
    for block in re.findall(r"<<'EOF'\n(.*?)\nEOF", readme, re.S):
        seeds.append(b"CONFIG\n" + block.encode())
    return seeds


def source_strings(pattern, paths):
    out = []
    for p in paths:
        out += re.findall(pattern, open(p).read())
    return out


def api_paths():
    srcs = glob.glob(os.path.join(ROOT, "monitor", "*.c")) + \
        glob.glob(os.path.join(ROOT, "virtio", "**", "*.c"), recursive=True)
    return sorted(set(source_strings(r'"(/[a-z/-]*)"', srcs)))


def json_dict():
    srcs = glob.glob(os.path.join(ROOT, "monitor", "*.c")) + [os.path.join(ROOT, "vmm", "config.c")] + \
        glob.glob(os.path.join(ROOT, "virtio", "**", "*.c"), recursive=True)
    keys = source_strings(r'json_key_is\([^"]*"([^"]+)"\)', srcs)
    keys += source_strings(r'parse_(?:choice|one_path|one)\([^"]*"([^"]+)"', srcs)
    keys += source_strings(r'\.(?:key|id_field) = "([^"]+)"', srcs)
    values = []
    for block in source_strings(r'static const char \*const \w+\[\] = \{([^}]*)\}', srcs):
        values += re.findall(r'"([^"]+)"', block)
    keys = [k for k in keys if re.match(r"^[a-z][a-z0-9_-]*$", k)]
    words = ['"%s":' % k for k in sorted(set(keys))] + ['"%s"' % v for v in sorted(set(values))]
    words += ["CONFIG\n", "GET ", "PUT ", "PATCH ", "true", "false", "null", "{}", "[]",
              "18446744073709551615", "-1", "\\u0000", "\\ud800"]
    return words + ["%s\n" % p for p in api_paths()]


# ---- loaders -------------------------------------------------------------

def elf(notes=b"", load_at=0x100000, entry=0x1000000):
    """test_elf.c's image: two PT_LOAD segments and a PT_NOTE (8-byte aligned)."""
    img = bytearray(0x2000)
    img[0:16] = b"\x7fELF\x02\x01\x01" + bytes(9)
    img[16:64] = struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, 64, 0, 0, 64, 56, 3, 0, 0, 0)
    segs = [(1, 5, 0x1000, 0xffffffff81000000, load_at, 0x200, 0x400, 0x1000),
            (1, 6, 0x1400, 0, 2 * load_at, 0x100, 0x100, 0x1000),
            (4, 4, 0x1800, 0, 0, len(notes), len(notes), 4)]
    for i, s in enumerate(segs):
        img[64 + 56 * i:64 + 56 * (i + 1)] = struct.pack("<IIQQQQQQ", *s)
    img[0x1000:0x1200] = bytes((i * 7 + 1) & 0xff for i in range(0x200))
    img[0x1400:0x1500] = b"\xb5" * 0x100
    img[0x1800:0x1800 + len(notes)] = notes
    return bytes(img)


def note(ntype, name, desc):
    pad = lambda b: b + bytes(-len(b) % 4)
    return struct.pack("<III", len(name), len(desc), ntype) + pad(name) + pad(desc)


def bzimage():
    """test_bzimage.c's image: protocol 2.15, 64-bit entry, 4 setup sectors."""
    setup_sects, pm_len = 4, 0x3000
    img = bytearray((setup_sects + 1) * 512 + pm_len)
    img[0x1f1] = setup_sects
    struct.pack_into("<I", img, 0x1f4, pm_len // 16)  # syssize
    struct.pack_into("<H", img, 0x1fe, 0xaa55)        # boot_flag
    struct.pack_into("<H", img, 0x200, 0x6aeb)        # jump
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, 0x020f)        # version
    img[0x211] = 0x01                                 # loadflags: LOADED_HIGH
    struct.pack_into("<I", img, 0x22c, 0x7fffffff)    # initrd_addr_max
    struct.pack_into("<I", img, 0x230, 0x200000)      # kernel_alignment
    img[0x234] = 1                                    # relocatable_kernel
    struct.pack_into("<H", img, 0x236, 0x3)           # xloadflags: KERNEL_64 | ABOVE_4G
    struct.pack_into("<I", img, 0x238, 2047)          # cmdline_size
    struct.pack_into("<Q", img, 0x258, 0x1000000)     # pref_address
    struct.pack_into("<I", img, 0x260, 0x800000)      # init_size
    img[(setup_sects + 1) * 512:] = bytes((i * 3) & 0xff for i in range(pm_len))
    return bytes(img)


def loader_seeds(guest_kit):
    seeds = [elf(), elf(note(18, b"Xen\0", struct.pack("<I", 0x100000))),
             elf(note(1, b"GNU\0", b"abcd") + note(18, b"Xen\0", struct.pack("<Q", 0x100200))),
             bzimage()]
    for name in ("hello", "hello64"):
        path = os.path.join(guest_kit or "", name + ".elf")
        if guest_kit and os.path.exists(path):
            with tempfile.NamedTemporaryFile() as t:
                subprocess.run(["strip", "-o", t.name, path], check=True)
                seeds.append(open(t.name, "rb").read())
    return seeds


def loaders_dict():
    return ["\x7fELF", "HdrS", "Xen\0", "\x55\xaa", "\x12\0\0\0", "\x02\x01\x01", "\x3e\0"]


# ---- snapshot_state ------------------------------------------------------

def snapshot_seeds(writer):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([writer, d], check=True)
        return [open(p, "rb").read() for p in sorted(glob.glob(os.path.join(d, "*")))]


def snapshot_dict():
    names = source_strings(r'\.name = "([^"]+)"',
                           glob.glob(os.path.join(ROOT, "virtio", "**", "*.c"), recursive=True))
    ids = [struct.pack("<I", i).decode("latin-1") for i in (1, 3, 4, 5, 0x100, 0x500, 0x600,
                                                            0xf0000000)]
    return ["MVMSNAP\0"] + sorted(set(names)) + ids


# ---- output --------------------------------------------------------------

def dict_line(i, w):
    if isinstance(w, bytes):
        w = w.decode("latin-1")
    esc = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02x" % ord(c) for c in w)
    return 'w%d="%s"\n' % (i, esc)


def write(target, seeds, words):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for s in dict.fromkeys(seeds):
        assert len(s) <= MAX_SEED, "%s: a seed of %d bytes" % (target, len(s))
        with open(os.path.join(d, hashlib.sha1(s).hexdigest()), "wb") as f:
            f.write(s)
    os.makedirs(os.path.join(HERE, "dict"), exist_ok=True)
    with open(os.path.join(HERE, "dict", target + ".dict"), "w") as f:
        f.write("# Generated by tests/fuzz/seed.py (make fuzz-seeds).\n")
        f.writelines(dict_line(i, w) for i, w in enumerate(dict.fromkeys(words)))
    print("seed: %-15s %3d seeds, %3d dictionary words" % (target, len(set(seeds)),
                                                         len(set(words))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed-snapshot", required=True, help="build/fuzz/seed_snapshot")
    ap.add_argument("--guest-kit", help="build/tests/guest (hello.elf, hello64.elf)")
    a = ap.parse_args()
    write("http", http_seeds(), http_dict())
    write("json_config", json_seeds(), json_dict())
    write("snapshot_state", snapshot_seeds(a.seed_snapshot), snapshot_dict())
    write("loaders", loader_seeds(a.guest_kit), loaders_dict())


if __name__ == "__main__":
    main()
