#!/bin/sh
# guest/scripts/hello.sh: example guest script; run with kite.script=hello.sh.
echo "hello from guest script"
