"""``python -m svc <command>``: the same commands as the ``svc-*`` console scripts."""
from svc.cli import main

main()
