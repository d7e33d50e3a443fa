"""``python -m timecoin_net``: the ``timecoin`` command line (see :mod:`timecoin_net.cli`)."""

from timecoin_net.cli import run

if __name__ == "__main__":
    run()
