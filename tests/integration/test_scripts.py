#!/usr/bin/env python3
"""The scripts a teacher runs, where they can be checked without a cluster:
scripts/systemd.sh writes units that start the binary with the right flags
(into a directory of the test's own), refuses an agent unit it cannot
complete, and removes what it wrote; scripts/up.sh rejects bad arguments
with its usage. Needs root (the scripts refuse otherwise); skips without.
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from harness import BIN, check, check_eq  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


def run(script, *args, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run(["bash", os.path.join(REPO, "scripts", script), *args], capture_output=True, text=True,
                          env=e, timeout=60)


def test_systemd_units(units):
    env = {"MINIK8S_UNIT_DIR": units, "MINIK8S_BIN": BIN, "MINIK8S_DATA_DIR": "/srv/m8s"}
    p = run("systemd.sh", "server", env=env)
    check_eq(p.returncode, 0, f"server unit: {p.stderr}")
    unit = open(os.path.join(units, "minik8s-server.service")).read()
    check(f"ExecStart={BIN} server --data-dir /srv/m8s --secure-port 6443\n" in unit, unit)
    check("After=network-online.target docker.service" in unit and "Restart=always" in unit, unit)

    p = run("systemd.sh", "agent", env=env)
    check_eq(p.returncode, 1, "an agent unit without a server, token or earlier join")
    check("give --server URL --token TOKEN" in p.stderr, p.stderr)
    p = run("systemd.sh", "agent", "--server", "https://10.0.0.1:6443", "--token", "K10abc::node:def", env=env)
    check_eq(p.returncode, 0, f"agent unit: {p.stderr}")
    unit = open(os.path.join(units, "minik8s-agent.service")).read()
    check(f"ExecStart={BIN} agent --data-dir /srv/m8s --server https://10.0.0.1:6443 --token K10abc::node:def\n"
          in unit, unit)

    p = run("systemd.sh", "remove", env=env)
    check_eq(p.returncode, 0, f"remove: {p.stderr}")
    check_eq(sorted(os.listdir(units)), [], "units removed")
    p = run("systemd.sh", "bogus", env=env)
    check_eq(p.returncode, 2, "unknown subcommand")
    check("scripts/systemd.sh server" in p.stdout, p.stdout)


def test_up_usage():
    p = run("up.sh", "--join", "https://10.0.0.1:6443")
    check_eq(p.returncode, 1, "--join without a token")
    check("usage: scripts/up.sh --join https://SERVER:6443 TOKEN" in p.stderr, p.stderr)
    p = run("up.sh", "--frobnicate")
    check_eq(p.returncode, 1, "an unknown argument")
    check("unknown argument '--frobnicate'" in p.stderr, p.stderr)


def main():
    if os.geteuid() != 0:
        print("SKIP: the scripts need root", file=sys.stderr)
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="minik8s-units-") as units:
        test_systemd_units(units)
    print("ok   test_systemd_units")
    test_up_usage()
    print("ok   test_up_usage")
    print("2 passed")


if __name__ == "__main__":
    main()
