# The ipsec chapter's capture container: the workshop runs `ngrep` from nicolaka/netshoot, which
# cannot be pulled here; Debian's ngrep package does the same, and iproute2 shows the node's IPsec
# state (`ip xfrm`), which the lab reads to tell an encrypted network from one that drops:
#   docker build -t 127.0.0.1:5000/ngrep:v1 -f stacks/ngrep.Dockerfile stacks
# DEBIAN_IMAGE: another Debian base (a local stand-in of the official image, for one).
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends ngrep iproute2 \
 && rm -rf /var/lib/apt/lists/*
