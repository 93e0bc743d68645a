import sys; print("not written"); sys.exit(77)
