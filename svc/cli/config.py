"""``svc-config``: the configuration in effect, as YAML (defaults, ``--config`` and ``--set`` applied)."""
from __future__ import annotations

import sys

from svc.cli.common import add_common, add_config, load_cli_config, parser, run_main


def command(argv) -> int:
    from svc.config import dump_yaml

    p = parser("svc-config",
               "Print the configuration in effect as commented YAML: the defaults of the schema "
               "(svc/config/schema.py), then --config, then --set. Unknown keys and bad values are refused.",
               "svc-config > my.yaml;  svc-config --set base.qp=32 --set roi.mode=auto")
    add_config(p)
    add_common(p, quiet=False)
    args = p.parse_args(argv)
    sys.stdout.write(dump_yaml(load_cli_config(args)))
    return 0


def main(argv=None):
    sys.exit(run_main(command, argv))
