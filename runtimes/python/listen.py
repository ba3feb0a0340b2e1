# Opens loopback listeners the way Python's documentation shows (`socket.listen()` with no
# argument: Modules/socketmodule.c passes min(SOMAXCONN, 128)), with -1 (made 0 by the same
# function) and with the system maximum idiom `socket.SOMAXCONN`; prints the listener protocol
# of runtimes/README.md and never accepts.
import platform
import socket
import sys
import threading

lifetime = float(sys.argv[1]) if len(sys.argv) > 1 else 120.0
variants = [
    ("default", lambda s: s.listen()),
    ("minus-1", lambda s: s.listen(-1)),
    ("somaxconn", lambda s: s.listen(socket.SOMAXCONN)),
]
lines = ["version Python %s %s" % (platform.python_version(), platform.python_implementation())]
listeners = []
for name, listen in variants:
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        listen(s)
        listeners.append(s)
        lines.append("listen %s %d" % (name, s.getsockname()[1]))
    except OSError as error:
        lines.append("unavailable %s %s" % (name, error))
lines.append("ready")
sys.stdout.write("\n".join(lines) + "\n")
sys.stdout.flush()
# Wait for standard input to close, or the lifetime to pass; nothing is accepted.
reader = threading.Thread(target=sys.stdin.read, daemon=True)
reader.start()
reader.join(lifetime)
for s in listeners:
    s.close()
