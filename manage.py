#!/usr/bin/env python
from levier.__main__ import main

if __name__ == "__main__":
    main()
