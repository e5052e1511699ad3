# k6 built with the xk6-sse extension (k6/x/sse), as llama.cpp's k6 bench uses. k6 >= 0.57 runs
# the TypeScript scripts of loadtest/ directly.
#   docker build -f docker/k6.Dockerfile -t reverie-k6 .
#   docker run --rm --network host -v "$PWD/loadtest:/loadtest:ro" reverie-k6 run /loadtest/sse.ts
ARG GO_IMAGE=golang:1.24-bookworm
FROM ${GO_IMAGE} AS build
ARG K6_VERSION=v1.4.0
ARG XK6_SSE_VERSION=latest
RUN go install go.k6.io/xk6/cmd/xk6@latest \
 && xk6 build ${K6_VERSION} --with github.com/phymbert/xk6-sse@${XK6_SSE_VERSION} --output /k6

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10002 --create-home k6
COPY --from=build /k6 /usr/bin/k6
USER k6
WORKDIR /home/k6
ENTRYPOINT ["k6"]
