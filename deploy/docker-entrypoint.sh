#!/usr/bin/env bash
# Entry point of the Conveyor image: `docker run IMAGE worker …`, `… producer publish …`,
# `… control status`. The first argument names the program; anything else is run as a command
# (e.g. `docker run -it IMAGE bash`). The launchers exec the JVM, so it receives the signals.
set -euo pipefail
case ${1:-} in
  producer | worker | control | dashboard | workers)
    program=$1
    shift
    exec /app/bin/"$program" "$@"
    ;;
  -h | --help)
    echo "usage: IMAGE worker|producer|control|dashboard [options…]   (IMAGE <program> --help for more)"
    exit 0
    ;;
  "")
    echo "usage: IMAGE worker|producer|control|dashboard [options…]   (IMAGE <program> --help for more)" >&2
    exit 2
    ;;
  *)
    exec "$@"
    ;;
esac
