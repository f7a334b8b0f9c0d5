#!/bin/sh
# Runs the service's command (exec: node stays PID 1). Port 80 as user node: Docker lowers
# net.ipv4.ip_unprivileged_port_start to 0 in each container, other runtimes (containerd 1.x's
# CRI) keep 1024. There, and only there, node gets CAP_NET_BIND_SERVICE as an ambient capability
# from bind-setpriv (setpriv with that one file capability): when the container's bounding set
# still holds it and no_new_privs is off; otherwise node runs as it is and the bind says why.
set -eu
port_start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 0)
if [ "${PORT:-80}" -lt "$port_start" ]; then
  bounding=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)
  no_new_privs=$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/self/status)
  # CAP_NET_BIND_SERVICE is capability 10.
  if [ "$no_new_privs" = 0 ] && [ $(( 0x$bounding >> 10 & 1 )) = 1 ]; then
    exec /usr/local/lib/dockercoins/bind-setpriv --inh-caps=+net_bind_service --ambient-caps=+net_bind_service -- "$@"
  fi
fi
exec "$@"
