"""Container images made by the tests themselves with umoci, from Debian's
static busybox: no registry, no network. Used by test_run_image.py."""
import io
import os
import shutil
import subprocess
import tarfile

from harness import Skip

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "id", "ls", "cat", "env", "kill", "echo", "pwd")

# The probe's entrypoint: what it sees, then what its first arguments ask for.
PROBE = r"""#!/bin/sh
echo "args:$*"
echo "cwd:$(pwd)"
echo "env:FOO=$FOO BAR=$BAR"
echo "id:$(id -u):$(id -g)"
[ -e /gone ] && echo "whiteout:present" || echo "whiteout:absent"
[ -e /kept ] && echo "kept:present"
[ -e /dev/vsock ] && echo "vsock:present"
[ -n "$VOL" ] && echo "vol:$(cat "$VOL")"
case "$1" in
exit) exit "$2" ;;
kill) kill -9 $$ ;;
esac
"""


def need_tools():
    for tool in ("umoci", "skopeo", "mkfs.ext4", "debugfs"):
        if not shutil.which(tool):
            raise Skip(f"{tool} is not installed (rootfs-tools/install-deps.sh)")
    if not os.access(BUSYBOX, os.X_OK):
        raise Skip(f"{BUSYBOX} missing (apt-get install busybox-static)")


def umoci(*args):
    p = subprocess.run(["umoci", *args], capture_output=True, text=True)
    if p.returncode:
        raise AssertionError(f"umoci {' '.join(args)}: {p.stderr}")


def _edit(ctx, ref, name, change):
    """Unpack ref, let change(rootfs) edit it, repack as a new layer."""
    bundle = ctx.path(name)
    umoci("unpack", "--image", ref, bundle)
    change(os.path.join(bundle, "rootfs"))
    umoci("repack", "--image", ref, bundle)
    shutil.rmtree(bundle)


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def probe_image(ctx, name="probe"):
    """An OCI layout (returns "DIR:t"): busybox, /probe.sh as the entrypoint
    with Cmd ["default-arg"], FOO/BAR in its env, /work its working directory,
    user 1000:1000; /gone made in the first layer and deleted in the second
    (a whiteout), /kept made and kept."""
    need_tools()
    layout = ctx.path(name)
    ref = layout + ":t"
    umoci("init", "--layout", layout)
    umoci("new", "--image", ref)

    def base(root):
        os.makedirs(root + "/bin")
        os.makedirs(root + "/work")
        shutil.copy(BUSYBOX, root + "/bin/busybox")
        for a in APPLETS:
            os.symlink("busybox", f"{root}/bin/{a}")
        _write(root + "/probe.sh", PROBE, 0o755)
        _write(root + "/gone", "deleted in the upper layer\n")
        _write(root + "/kept", "kept\n")

    _edit(ctx, ref, name + "-b1", base)
    _edit(ctx, ref, name + "-b2", lambda root: os.unlink(root + "/gone"))
    umoci("config", "--image", ref, "--config.entrypoint", "/probe.sh", "--config.cmd",
          "default-arg", "--config.env", "FOO=img", "--config.env", "BAR=img2",
          "--config.workingdir", "/work", "--config.user", "1000:1000")
    return ref


def docker_archive(ctx, ref, name="probe.tar"):
    """The same image as `docker save` writes it (skopeo copy)."""
    out = ctx.path(name)
    p = subprocess.run(["skopeo", "copy", "--quiet", "oci:" + ref, f"docker-archive:{out}:p:t"],
                       capture_output=True, text=True)
    if p.returncode:
        raise AssertionError(f"skopeo copy: {p.stderr}")
    return out


def malicious_layer(path, host_escape, host_dir):
    """A layer tarball that tries to leave the root: a ../ path to
    host_escape, an absolute symlink to host_dir with a file written through
    it, a character device (1,1: /dev/mem) and a setuid file."""
    def add(t, name, data=b"x\n", **kw):
        ti = tarfile.TarInfo(name)
        for k, v in kw.items():
            setattr(ti, k, v)
        if ti.type == tarfile.REGTYPE:
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        else:
            t.addfile(ti)
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as t:
        add(t, "../" * 12 + host_escape.lstrip("/"), b"escaped\n")
        add(t, "abs", type=tarfile.SYMTYPE, linkname=host_dir)
        add(t, "abs/pwned", b"pwned\n")
        add(t, "evil", type=tarfile.CHRTYPE, devmajor=1, devminor=1, mode=0o666)
        add(t, "suid", b"#!/bin/sh\n", mode=0o4755)


def ext4_drive(ctx, name, files):
    """An ext4 file (mkfs.ext4 -d, no mount) holding files {name: text}."""
    src = ctx.path(name + ".d")
    os.makedirs(src)
    for f, text in files.items():
        _write(os.path.join(src, f), text)
    out = ctx.path(name)
    subprocess.run(["mkfs.ext4", "-q", "-d", src, out, "4M"], check=True, capture_output=True)
    return out


def ext4_ls(image, path):
    """`debugfs -R 'ls -l PATH'` of an ext4 image file (no mount)."""
    p = subprocess.run(["debugfs", "-R", f"ls -l {path}", image], capture_output=True, text=True)
    return p.stdout
