# The logging chapter's stand-in for the workshop's ELK stack: Debian's python3 and a GELF
# receiver that prints each message as a JSON line (gelf-receiver.py), so that it builds wherever
# Debian's mirror is reachable and no image registry is (stacks/elk.yml builds it):
#   docker-compose -f stacks/elk.yml build
# DEBIAN_IMAGE: another Debian base (a local stand-in of the official image, for one).
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/*
COPY gelf-receiver.py /usr/local/bin/gelf-receiver.py
EXPOSE 12201/udp
CMD ["python3", "-u", "/usr/local/bin/gelf-receiver.py"]
