# The netshoot and ipsec chapters' debug image: the tools the workshop installs in alpine with
# `apk add curl apache2-utils drill` or finds in nicolaka/netshoot (ngrep), from Debian's
# packages, so that it builds wherever Debian's mirror is reachable and no image registry is;
# iproute2 shows a node's IPsec state (`ip xfrm`), which the ipsec chapter reads:
#   docker build -t 127.0.0.1:5000/netshoot:v1 -f stacks/netshoot.Dockerfile stacks
# DEBIAN_IMAGE: another Debian base (a local stand-in of the official image, for one).
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl apache2-utils ldnsutils iputils-ping ngrep iproute2 \
 && rm -rf /var/lib/apt/lists/*
CMD ["sleep", "infinity"]
