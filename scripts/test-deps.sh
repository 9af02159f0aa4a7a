#!/usr/bin/env bash
# Installs the Debian packages the test suite runs against for real (Prometheus/promtool, Redis).
# Run by `npm test` (pretest). As root it installs what is missing; otherwise it names the packages and stops.
set -euo pipefail

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus >/dev/null 2>&1 || { [[ " ${need[*]-} " == *" prometheus "* ]] || need+=(prometheus); }
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need these Debian packages: ${need[*]}" >&2
  echo "Install them with: sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi

echo "Installing Debian packages for the tests: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Package scripts must not start system services inside a container or CI runner.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
