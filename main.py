"""Run the kiosk from a checkout: ``python main.py [--config FILE]``."""
import sys

from kiosk.app_entry import main

if __name__ == "__main__":
    sys.exit(main())
