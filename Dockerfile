# The collector as an image: the static `wakeline` binary, alone, FROM scratch.
# Nothing is pulled; the binary is built on the host first. `scripts/image` does
# both (the build context is a folder holding only this file and the binary):
#
#   scripts/image                      # release build, image wakeline:latest
#   docker run -d --name wakeline \
#     -v /var/run/docker.sock:/var/run/docker.sock:ro \
#     -v /var/lib/docker/containers:/var/lib/docker/containers:ro \
#     -v wakeline-data:/data -p 127.0.0.1:7070:7070 wakeline:latest
FROM scratch
COPY wakeline /wakeline

# In its own network namespace the collector is reachable through `-p` only if it
# listens beyond the container's loopback. The port is then published on the
# host's loopback alone (`-p 127.0.0.1:7070:7070`): see the README, "Run it as a
# container". The bare binary's default stays 127.0.0.1:7070.
# Listening there without a token is refused unless accepted explicitly:
# WAKELINE_ALLOW_OPEN says the published port is the only way in.
ENV WAKELINE_LISTEN=0.0.0.0:7070 \
    WAKELINE_ALLOW_OPEN=true \
    WAKELINE_DATA_DIR=/data
# Its own logs go to a json-file log (and into its own index), not a terminal:
# no colour codes.
ENV NO_COLOR=1
VOLUME /data
EXPOSE 7070

ENTRYPOINT ["/wakeline"]
