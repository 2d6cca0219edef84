#!/bin/sh
# compute-sanitizer stand-in for the tests (FAULTLINE_SANITIZER): copies the report named by
# FAKE_SANITIZER_REPORT to the --log-file it is given, then runs the program.
log=""
while [ $# -gt 0 ]; do
  case "$1" in
    --log-file) log=$2; shift 2 ;;
    --*) shift 2 ;;
    *) break ;;
  esac
done
[ -n "$log" ] && cp "$FAKE_SANITIZER_REPORT" "$log"
exec "$@"
