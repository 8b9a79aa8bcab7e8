"""Freezes the documents of the search quality set (bench/search/quality/docs.jsonl) from the
docstrings of the CPython standard library that ships in Debian's libpython3.11-stdlib
(3.11.2-6+deb12u6 on this machine; the interpreter is /usr/bin/python3.11). Run once by hand:
    python3.11 bench/search/quality/build_docs.py > bench/search/quality/docs.jsonl
The file is committed: the benchmark and the test read it, never this script. One document per
public function, method or class of the modules below whose docstring has at least 20 characters
(exceptions and private names left out): {"id": "<module>.<name>", "text": "<name><signature>: <docstring>"},
the docstring cut at 600 characters on a word boundary."""
import importlib
import inspect
import json
import sys

MODULES = ("builtins os os.path shutil json re math statistics itertools functools collections heapq bisect "
           "random datetime time calendar subprocess glob fnmatch tempfile hashlib base64 gzip zipfile tarfile "
           "csv textwrap difflib copy urllib.parse uuid secrets shlex struct zlib string threading queue "
           "socket pickle logging sqlite3 platform locale unicodedata html ipaddress pathlib").split()
# Methods of these types are documents too (str.split, dict.get, ...).
TYPES = {"str": str, "list": list, "dict": dict, "set": set, "pathlib.Path": None}
SKIP_OS = ("sched_", "posix_", "spawn", "exec", "wait", "get_terminal", "register_at_fork", "memfd", "pidfd",
           "eventfd", "splice", "copy_file_range", "sendfile", "preadv", "pwritev", "readv", "writev", "openpty",
           "login_tty", "forkpty", "setres", "getres", "setgroups", "initgroups", "getgrouplist", "setpgid",
           "tcsetpgrp", "tcgetpgrp", "setsid", "getsid", "setpgrp", "getpgrp", "setreuid", "setregid",
           "seteuid", "setegid", "device_encoding", "major", "minor", "makedev", "mknod", "mkfifo", "lockf",
           "ctermid", "ttyname", "plock", "fchown", "lchown", "fchmod", "fdatasync", "fpathconf", "pathconf",
           "confstr", "sysconf", "statvfs", "fstatvfs", "truncate", "ftruncate", "set_blocking", "get_blocking",
           "set_inheritable", "get_inheritable", "dup", "pipe2", "pread", "pwrite", "lseek", "fsync", "sync",
           "getpriority", "setpriority", "nice", "times", "getloadavg", "getxattr", "setxattr", "listxattr",
           "removexattr", "unshare", "setns", "abort", "_exit", "kill", "killpg", "fork", "setuid", "setgid",
           "getppid", "getpgid", "getgroups", "getegid", "geteuid", "getgid", "closerange", "fwalk", "fstat",
           "fchdir", "chroot", "openpty", "grantpt", "ptsname", "unlockpt", "posix_openpt", "isatty", "umask")


def doc_of(name, obj):
    doc = inspect.getdoc(obj) or ""
    if len(doc) < 20:
        return None
    try:
        sig = str(inspect.signature(obj)) if not inspect.isclass(obj) else ""
    except (TypeError, ValueError):
        sig = ""
    doc = " ".join(doc.split())
    if doc.startswith(name.rsplit(".", 1)[-1] + "("):  # builtins repeat their signature
        sig = ""
    if len(doc) > 600:
        doc = doc[:600].rsplit(" ", 1)[0] + " ..."
    return f"{name}{sig}: {doc}"


def main():
    docs = {}
    for m in MODULES:
        mod = importlib.import_module(m)
        names = getattr(mod, "__all__", None) or dir(mod)
        for n in sorted(set(names)):
            if n.startswith("_") or (m == "os" and n.startswith(SKIP_OS)):
                continue
            o = getattr(mod, n, None)
            if o is None or not (inspect.isroutine(o) or inspect.isclass(o)):
                continue
            if inspect.isclass(o) and (issubclass(o, BaseException) or
                                       (m not in ("builtins", "os") and not o.__module__.startswith(m))):
                continue
            if m == "builtins" and inspect.isclass(o) and n not in ("dict", "list", "set", "str", "bytes",
                                                                     "range", "enumerate", "zip", "map", "filter",
                                                                     "frozenset", "tuple", "int", "float",
                                                                     "bytearray", "memoryview", "reversed"):
                continue
            ident = n if m == "builtins" else f"{m}.{n}"
            text = doc_of(ident, o)
            if text:
                docs[ident] = text
    for tname, t in TYPES.items():
        t = t or importlib.import_module("pathlib").Path
        for n in sorted(vars(t)):
            if n.startswith("_"):
                continue
            o = getattr(t, n)
            if not inspect.isroutine(o):
                continue
            ident = f"{tname}.{n}"
            text = doc_of(ident, o)
            if text:
                docs[ident] = text
    for ident in sorted(docs):
        sys.stdout.write(json.dumps({"id": ident, "text": docs[ident]}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
